# The REST API's OpenAPI document and the host capabilities' JSON Schema
# (included by Makefile.am).

EXTRA_DIST += docs/openapi.json
openapidir = $(docdir)
dist_openapi_DATA = docs/openapi.json
hostcapsschemadir = $(docdir)
dist_hostcapsschema_DATA = docs/host-caps.schema.json
