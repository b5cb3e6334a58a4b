package api

import _ "embed"

// openAPI documents the API; it is served at /api/v1/openapi.yaml.
//
//go:embed openapi.yaml
var openAPI []byte
