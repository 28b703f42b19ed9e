package activities

import (
	"testing"

	"github.com/dingsync/dingsync/internal/dingtalk"
	"github.com/dingsync/dingsync/internal/store"
)

func TestOrgLevelScopeDropsEveryEmployeeChange(t *testing.T) {
	batch := store.StageBatch{
		Users:     []store.StagedUser{{DeptID: 2, User: dingtalk.User{UserID: "u1"}}},
		Deletions: []store.Deletion{{Entity: "employee", RecordID: "u2"}, {Entity: "department", RecordID: "9"}},
	}
	if err := limitToScope(t.Context(), nil, "corp1", store.Scope{Level: store.LevelOrg}, &batch); err != nil {
		t.Fatal(err)
	}
	if len(batch.Users) != 0 || len(batch.Deletions) != 1 || batch.Deletions[0].Entity != "department" {
		t.Fatalf("at the org level the batch kept %+v", batch)
	}
}
