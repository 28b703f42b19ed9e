// Package schema holds dingsync's Postgres migrations (goose format, numbered up/down files),
// embedded so the worker applies them at start.
package schema

import "embed"

// Migrations are the numbered SQL files of this folder.
//
//go:embed *.sql
var Migrations embed.FS
