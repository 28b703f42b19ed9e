package main

import (
	"errors"
	"maps"
	"testing"
	"time"
)

func TestParseSetFlagsTypesEachField(t *testing.T) {
	shanghai := time.FixedZone("CST", 8*3600)
	cases := []struct {
		sets []string
		want map[string]any // nil: a usage error
	}{
		{[]string{"title=HRBP", "work_place=杭州"}, map[string]any{"title": "HRBP", "work_place": "杭州"}},
		{[]string{"remark=a=b=c"}, map[string]any{"remark": "a=b=c"}},
		{[]string{"remark="}, map[string]any{"remark": ""}},
		{[]string{"hired_date=2024-03-01"}, map[string]any{"hired_date": int64(1709222400000)}},
		{[]string{"hired_date=1709222400000"}, map[string]any{"hired_date": int64(1709222400000)}},
		{[]string{}, map[string]any{}},
		{[]string{"hired_date=2024-02-30"}, nil},
		{[]string{"hired_date=-1"}, nil},
		{[]string{"hired_date=March 1st"}, nil},
		{[]string{"hired_date="}, nil},
		{[]string{"mobile=13800000000"}, nil},
		{[]string{"dept_ids=1"}, nil},
		{[]string{"title"}, nil},
		{[]string{"title=a", "title=b"}, nil},
	}
	for _, c := range cases {
		got, err := parseSetFlags(c.sets, shanghai)
		if c.want == nil {
			if !errors.Is(err, errUsage) {
				t.Errorf("%q: got %v, %v; want a usage error", c.sets, got, err)
			}
			continue
		}
		if err != nil || !maps.Equal(got, c.want) {
			t.Errorf("%q: got %v, %v; want %v", c.sets, got, err, c.want)
		}
	}
}

func TestParseSetFlagsReadsADateInTheGivenZone(t *testing.T) {
	got, err := parseSetFlags([]string{"hired_date=2024-03-01"}, time.UTC)
	if err != nil || got["hired_date"] != int64(1709251200000) {
		t.Errorf("got %v, %v; want midnight UTC, 1709251200000", got, err)
	}
}

func TestParseFieldOwners(t *testing.T) {
	cases := []struct {
		fields []string
		want   map[string]string // nil: a usage error
	}{
		{[]string{"title=ehr", "work_place=ehr", "remark=dingtalk"},
			map[string]string{"title": "ehr", "work_place": "ehr", "remark": "dingtalk"}},
		{[]string{"hired_date=ehr"}, map[string]string{"hired_date": "ehr"}},
		{nil, nil},
		{[]string{"title"}, nil},
		{[]string{"title=EHR"}, nil},
		{[]string{"title=both"}, nil},
		{[]string{"mobile=ehr"}, nil},
		{[]string{"dept_ids=ehr"}, nil},
		{[]string{"title=ehr", "title=dingtalk"}, nil},
	}
	for _, c := range cases {
		got, err := parseFieldOwners(c.fields)
		if c.want == nil {
			if !errors.Is(err, errUsage) {
				t.Errorf("%q: got %v, %v; want a usage error", c.fields, got, err)
			}
			continue
		}
		if err != nil || !maps.Equal(got, c.want) {
			t.Errorf("%q: got %v, %v; want %v", c.fields, got, err, c.want)
		}
	}
}
