"""The GNN: features, model, training, registry and scoring (see gnn/score.py for the interface)."""
