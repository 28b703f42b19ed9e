package dingtalk

import (
	"context"
	"errors"
	"fmt"
)

type userListParams struct {
	DeptID int64 `json:"dept_id"`
	Cursor int64 `json:"cursor"`
	Size   int   `json:"size"`
}

type userListResult struct {
	HasMore    bool    `json:"has_more"`
	NextCursor int64   `json:"next_cursor"`
	List       *[]User `json:"list"`
}

// ListUsers returns one page of the users directly in department deptID (not its
// sub-departments), starting at cursor (0 first, then the page's NextCursor). size 0 means
// MaxUserPageSize; a larger size is clamped to it.
func (c *Client) ListUsers(ctx context.Context, app App, deptID int64, cursor int64, size int) (UserPage, error) {
	switch {
	case deptID < 1:
		return UserPage{}, invalidArgument(APIUserList, "invalid department id %d", deptID)
	case cursor < 0:
		return UserPage{}, invalidArgument(APIUserList, "invalid cursor %d", cursor)
	case size < 0:
		return UserPage{}, invalidArgument(APIUserList, "invalid page size %d", size)
	case size == 0 || size > MaxUserPageSize:
		size = MaxUserPageSize
	}
	params := userListParams{DeptID: deptID, Cursor: cursor, Size: size}
	res, err := oapiCall(ctx, c, app, APIUserList, params, func(r *userListResult) error {
		if r.List == nil {
			return errors.New("no list")
		}
		if r.HasMore && r.NextCursor <= cursor {
			return fmt.Errorf("has_more with next_cursor %d after cursor %d", r.NextCursor, cursor)
		}
		return checkUsers(*r.List)
	})
	if err != nil {
		return UserPage{}, err
	}
	return UserPage{Users: *res.List, HasMore: res.HasMore, NextCursor: res.NextCursor}, nil
}

// checkUsers rejects users without the userid every record is keyed on.
func checkUsers(users []User) error {
	for _, u := range users {
		if u.UserID == "" {
			return errors.New("user without userid")
		}
	}
	return nil
}

type userGetParams struct {
	UserID string `json:"userid"`
}

// GetUser returns the details of user userID; a user who left (or never belonged to the
// org) is KindNotFound.
func (c *Client) GetUser(ctx context.Context, app App, userID string) (UserDetail, error) {
	if userID == "" {
		return UserDetail{}, invalidArgument(APIUserGet, "empty user id")
	}
	return oapiCall(ctx, c, app, APIUserGet, userGetParams{userID}, func(u *UserDetail) error {
		return checkUsers([]User{u.User})
	})
}

type userIDList struct {
	UserIDs *[]string `json:"userid_list"`
}

// ListUserIDs returns the userids directly in department deptID. It is not restricted by
// the app's contact scope.
func (c *Client) ListUserIDs(ctx context.Context, app App, deptID int64) ([]string, error) {
	if deptID < 1 {
		return nil, invalidArgument(APIUserListID, "invalid department id %d", deptID)
	}
	res, err := oapiCall(ctx, c, app, APIUserListID, deptParams{deptID}, func(r *userIDList) error {
		if r.UserIDs == nil {
			return errors.New("no userid_list")
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return *res.UserIDs, nil
}

type userCountParams struct {
	OnlyActive bool `json:"only_active"`
}

type userCountResult struct {
	Count *int64 `json:"count"`
}

// CountUsers returns the number of users in the org; onlyActive counts only those who have
// activated DingTalk.
func (c *Client) CountUsers(ctx context.Context, app App, onlyActive bool) (int64, error) {
	res, err := oapiCall(ctx, c, app, APIUserCount, userCountParams{onlyActive}, func(r *userCountResult) error {
		if r.Count == nil || *r.Count < 0 {
			return errors.New("no count")
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return *res.Count, nil
}
