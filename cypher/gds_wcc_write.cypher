CALL gds.wcc.write($name, {writeProperty: 'component', logProgress: false})
YIELD componentCount, nodePropertiesWritten, computeMillis, writeMillis
RETURN componentCount, nodePropertiesWritten, computeMillis, writeMillis
