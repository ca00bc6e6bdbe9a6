"""One package per Lambda function; a handler parses, calls a service, maps the result."""
