"""Request and response bodies of the native API, one module per resource."""
