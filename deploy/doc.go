// Package deploy holds the configuration docker-compose.yml mounts into its services:
// Prometheus's (prometheus/), Grafana's provisioning (grafana/) and the simulator's demo app
// secret (demo/). It has no code: its tests validate docker-compose.yml and these files
// together (docker-compose config, promtool check config, and structural checks), without a
// Docker engine.
package deploy
