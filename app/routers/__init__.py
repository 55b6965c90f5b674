"""HTTP endpoints: parse, authorize, call the store or a service, shape the answer."""
