package store_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/dingsync/dingsync/internal/dingtalk"
	"github.com/dingsync/dingsync/internal/store"
	"github.com/dingsync/dingsync/internal/testenv"
)

// BenchmarkApplyFirstSync measures the apply phase alone: n staged employees (about 20 per
// department, 5% in two) applied into an empty store.
func BenchmarkApplyFirstSync(b *testing.B) {
	for _, n := range []int{10_000, 100_000} {
		b.Run(fmt.Sprintf("%dk", n/1000), func(b *testing.B) {
			st := testenv.NewStore(b)
			ctx := context.Background()
			if _, err := st.Bind(ctx, store.BindInput{CorpID: "corp1", AppKey: "key1", Actor: "bench",
				SealSecret: func(string) ([]byte, error) { return []byte("x"), nil }}); err != nil {
				b.Fatal(err)
			}
			batch := syntheticOrg(n)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				_, _ = st.DB().Exec(`TRUNCATE employees, employee_departments, departments, sync_changes`)
				runID, err := st.StartRun(ctx, store.StartRunInput{CorpID: "corp1", Kind: "full", Trigger: "bench",
					WorkflowID: "bench", TemporalRunID: fmt.Sprint(i)})
				if err != nil {
					b.Fatal(err)
				}
				if err := st.Stage(ctx, runID, "corp1", batch); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				res, err := st.Apply(ctx, runID, store.DeletionsGuarded)
				if err != nil || res.Created != n {
					b.Fatalf("apply = %+v, %v", res, err)
				}
			}
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "employees/s")
		})
	}
}

func syntheticOrg(n int) store.StageBatch {
	var b store.StageBatch
	depts := n / 20
	for d := 1; d <= depts; d++ {
		b.Departments = append(b.Departments, dingtalk.Department{ID: int64(d), Name: fmt.Sprintf("部门%d", d), ParentID: int64(d / 10)})
	}
	for i := 0; i < n; i++ {
		d := int64(1 + i%depts)
		u := dingtalk.User{UserID: fmt.Sprintf("user%07d", i), Name: "王芳", Mobile: fmt.Sprintf("138%08d", i),
			Email: fmt.Sprintf("u%d@example.com", i), JobNumber: fmt.Sprint(i), Title: "工程师", DeptIDList: []int64{d},
			Extension: `{"爱好":"跑步"}`, HiredDate: 1600000000000, Active: true}
		if i%20 == 0 {
			u.DeptIDList = append(u.DeptIDList, 1+(d%int64(depts)))
			b.Users = append(b.Users, store.StagedUser{DeptID: u.DeptIDList[1], User: u})
		}
		b.Users = append(b.Users, store.StagedUser{DeptID: d, User: u})
	}
	return b
}
