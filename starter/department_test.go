package main

import (
	"maps"
	"testing"
)

func TestDepartmentFieldsAreOnlyTheFlagsGiven(t *testing.T) {
	cases := []struct {
		args []string
		want map[string]any
	}{
		{[]string{"--dept-id", "12", "--name", "华北区"}, map[string]any{"name": "华北区"}},
		{[]string{"--dept-id", "12", "--parent", "5", "--order", "0"}, map[string]any{"parent_id": int64(5), "order": int64(0)}},
		{[]string{"--dept-id", "12"}, map[string]any{}},
	}
	for _, c := range cases {
		update, _, err := newDepartmentCommand(&environment{}).Find([]string{"update"})
		if err != nil {
			t.Fatal(err)
		}
		if err := update.ParseFlags(c.args); err != nil {
			t.Fatal(err)
		}
		if got := departmentFields(update); !maps.Equal(got, c.want) {
			t.Errorf("%q: fields %v, want %v (an --order 0 given is sent, one not given is not)", c.args, got, c.want)
		}
	}
}
