"""Request and response bodies. Inputs and outputs are separate models, so a client can never set a field
it must not; every model carries an example for the OpenAPI document."""
