"""Security primitives shared by the API service and the API Gateway Lambda authorizer."""
