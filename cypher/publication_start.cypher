CREATE (:Publication {gen: $gen, sweep_id: $sweep_id, garbage: false})
