// Package dashboards holds dingsync's Grafana dashboards (fleet.json, corp.json) and Prometheus
// alert rules (alerts.yml, with their promtool unit tests in alerts_test.yml). It has no code:
// its tests check that every query uses only metrics the code exports, that the PromQL parses,
// and that the alerts fire when they should.
package dashboards
