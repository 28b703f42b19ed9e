package dingtalksim

import (
	"cmp"
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"
)

// RootDepartmentID is the id of every org's root department.
const RootDepartmentID int64 = 1

// corp is one corp's live org. Server.mu guards it.
type corp struct {
	id         string
	depts      map[int64]*dept
	users      map[string]*user
	left       map[string]bool // userids that left: user/get answers 60121
	leavers    []LeaveRecord   // ordered by LeaveTime
	active     int             // users with Active set
	nextDeptID int64
	events     []Event
}

// dept is a department plus the indexes requests read: children and members stay sorted
// so that listsub and user/list never scan or sort the org.
type dept struct {
	Department
	parent   *dept
	children []*dept // by Order, then id
	members  []*user // by the member's order in this dept, then userid
}

// user is a user plus bookkeeping the wire does not show.
type user struct {
	User
	modified int64 // unix ms of the last change, for order_field modify_*
}

// newCorp builds the live org from org, validating it. It takes ownership of org's slices.
func newCorp(org Org, now time.Time) (*corp, error) {
	c := &corp{
		id:    org.CorpID,
		depts: make(map[int64]*dept, len(org.Departments)),
		users: make(map[string]*user, len(org.Users)),
		left:  make(map[string]bool, len(org.Leavers)),
	}
	if err := c.loadDepartments(org.Departments); err != nil {
		return nil, err
	}
	for i := range org.Users {
		u := &user{User: org.Users[i], modified: now.UnixMilli()}
		if _, dup := c.users[u.UserID]; dup {
			return nil, fmt.Errorf("%w: duplicate userid %q", ErrInvalid, u.UserID)
		}
		if err := c.normalizeUser(&u.User); err != nil {
			return nil, err
		}
		c.users[u.UserID] = u
		for _, id := range u.DeptIDList {
			d := c.depts[id]
			d.members = append(d.members, u)
		}
		c.count(&u.User, 1)
	}
	for _, d := range c.depts {
		slices.SortFunc(d.members, memberCmp(d.ID))
		d.refreshManagers()
	}
	c.leavers = org.Leavers
	sort.SliceStable(c.leavers, func(i, j int) bool { return c.leavers[i].LeaveTime.Before(c.leavers[j].LeaveTime) })
	for _, l := range c.leavers {
		if c.users[l.UserID] == nil {
			c.left[l.UserID] = true
		}
	}
	return c, nil
}

// loadDepartments indexes ds and checks that they form one tree under the root.
func (c *corp) loadDepartments(ds []Department) error {
	for _, d := range ds {
		if _, dup := c.depts[d.ID]; dup || d.ID <= 0 {
			return fmt.Errorf("%w: bad or duplicate department id %d", ErrInvalid, d.ID)
		}
		d.MemberCount, d.OwningMemberCount, d.DeptManagerUserIDs = 0, 0, nil
		c.depts[d.ID] = &dept{Department: d}
		c.nextDeptID = max(c.nextDeptID, d.ID+1)
	}
	root, ok := c.depts[RootDepartmentID]
	if !ok {
		return fmt.Errorf("%w: root department %d missing", ErrInvalid, RootDepartmentID)
	}
	root.ParentID = 0
	for _, d := range c.depts {
		if d.ID == RootDepartmentID {
			continue
		}
		p, ok := c.depts[d.ParentID]
		if !ok {
			return fmt.Errorf("%w: department %d: parent %d missing", ErrInvalid, d.ID, d.ParentID)
		}
		d.parent = p
		p.children = append(p.children, d)
	}
	for _, d := range c.depts {
		for a, steps := d, 0; a != root; a, steps = a.parent, steps+1 {
			if steps > len(c.depts) {
				return fmt.Errorf("%w: department %d is in a cycle", ErrInvalid, d.ID)
			}
		}
		slices.SortFunc(d.children, childCmp)
	}
	return nil
}

// normalizeUser validates u against the org and aligns DeptOrderList and LeaderInDept with
// DeptIDList, filling defaults.
func (c *corp) normalizeUser(u *User) error {
	switch {
	case u.UserID == "":
		return fmt.Errorf("%w: userid is required", ErrInvalid)
	case u.Name == "":
		return fmt.Errorf("%w: user %s: name is required", ErrInvalid, u.UserID)
	case len(u.DeptIDList) == 0:
		return fmt.Errorf("%w: user %s: dept_id_list is empty", ErrInvalid, u.UserID)
	}
	orders := make([]DeptOrder, 0, len(u.DeptIDList))
	leaders := make([]LeaderInDept, 0, len(u.DeptIDList))
	for i, id := range u.DeptIDList {
		d, ok := c.depts[id]
		if !ok {
			return fmt.Errorf("%w: user %s: department %d", ErrNotFound, u.UserID, id)
		}
		if slices.Contains(u.DeptIDList[:i], id) {
			return fmt.Errorf("%w: user %s: department %d listed twice", ErrInvalid, u.UserID, id)
		}
		order := u.orderIn(id)
		if !slices.ContainsFunc(u.DeptOrderList, func(o DeptOrder) bool { return o.DeptID == id }) {
			order = d.nextMemberOrder()
		}
		orders = append(orders, DeptOrder{DeptID: id, Order: order})
		leaders = append(leaders, LeaderInDept{DeptID: id, Leader: u.leaderIn(id)})
	}
	u.DeptOrderList, u.LeaderInDept = orders, leaders
	if u.RoleList == nil {
		u.RoleList = []Role{}
	}
	if u.StateCode == "" {
		u.StateCode = "86"
	}
	if u.UnionID == "" {
		sum := sha1.Sum([]byte(c.id + "/" + u.UserID))
		u.UnionID = "sim" + hex.EncodeToString(sum[:11])
	}
	return nil
}

// count adds sign to the member counts of u's departments and of their ancestors (each
// department once, so a user in two sibling departments counts once in their parent).
func (c *corp) count(u *User, sign int64) {
	var buf [16]int64
	seen := buf[:0]
	for _, id := range u.DeptIDList {
		d := c.depts[id]
		d.OwningMemberCount += sign
		for a := d; a != nil; a = a.parent {
			if slices.Contains(seen, a.ID) {
				break // its ancestors are counted already
			}
			seen = append(seen, a.ID)
			a.MemberCount += sign
		}
	}
	if u.Active {
		c.active += int(sign)
	}
}

// link makes a normalized user visible in its departments.
func (c *corp) link(u *user) {
	c.users[u.UserID] = u
	for _, id := range u.DeptIDList {
		d := c.depts[id]
		i, _ := slices.BinarySearchFunc(d.members, u, memberCmp(id))
		d.members = slices.Insert(d.members, i, u)
		d.refreshManagers()
	}
	c.count(&u.User, 1)
}

// unlink removes u from its departments and the user index.
func (c *corp) unlink(u *user) {
	delete(c.users, u.UserID)
	for _, id := range u.DeptIDList {
		d := c.depts[id]
		if i := slices.Index(d.members, u); i >= 0 {
			d.members = slices.Delete(d.members, i, i+1)
		}
		d.refreshManagers()
	}
	c.count(&u.User, -1)
}

// subtreeUsers lists the distinct users in d and its descendants.
func (c *corp) subtreeUsers(d *dept) []*user {
	seen := map[*user]bool{}
	var out []*user
	var walk func(*dept)
	walk = func(d *dept) {
		for _, u := range d.members {
			if !seen[u] {
				seen[u] = true
				out = append(out, u)
			}
		}
		for _, ch := range d.children {
			walk(ch)
		}
	}
	walk(d)
	return out
}

// inSubtree says whether d is root or one of its descendants.
func inSubtree(d, root *dept) bool {
	for a := d; a != nil; a = a.parent {
		if a == root {
			return true
		}
	}
	return false
}

// nextMemberOrder is the order that puts a new member last in d.
func (d *dept) nextMemberOrder() int64 {
	if len(d.members) == 0 {
		return 1
	}
	return d.members[len(d.members)-1].orderIn(d.ID) + 1
}

// nextChildOrder is the order that puts a new child last under d.
func (d *dept) nextChildOrder() int64 {
	if len(d.children) == 0 {
		return 1
	}
	return d.children[len(d.children)-1].Order + 1
}

// refreshManagers derives dept_manager_userid_list from the members' leader flags. It
// builds a new slice: stored slices are never changed in place, so a reader may keep one
// after releasing the lock.
func (d *dept) refreshManagers() {
	ids := []string{}
	for _, u := range d.members {
		if u.leaderIn(d.ID) {
			ids = append(ids, u.UserID)
		}
	}
	d.DeptManagerUserIDs = ids
}

// hasChildNamed says whether d has a child other than except called name.
func (d *dept) hasChildNamed(name string, except *dept) bool {
	return slices.ContainsFunc(d.children, func(ch *dept) bool { return ch != except && ch.Name == name })
}

func memberCmp(deptID int64) func(a, b *user) int {
	return func(a, b *user) int {
		if c := cmp.Compare(a.orderIn(deptID), b.orderIn(deptID)); c != 0 {
			return c
		}
		return strings.Compare(a.UserID, b.UserID)
	}
}

func childCmp(a, b *dept) int {
	if c := cmp.Compare(a.Order, b.Order); c != 0 {
		return c
	}
	return cmp.Compare(a.ID, b.ID)
}

// truth copies the whole org out.
func (c *corp) truth() Org {
	org := Org{
		CorpID:      c.id,
		Departments: make([]Department, 0, len(c.depts)),
		Users:       make([]User, 0, len(c.users)),
		Leavers:     slices.Clone(c.leavers),
	}
	for _, d := range c.depts {
		org.Departments = append(org.Departments, d.Department.clone())
	}
	for _, u := range c.users {
		org.Users = append(org.Users, u.User.clone())
	}
	slices.SortFunc(org.Departments, func(a, b Department) int { return cmp.Compare(a.ID, b.ID) })
	slices.SortFunc(org.Users, func(a, b User) int { return strings.Compare(a.UserID, b.UserID) })
	if org.Leavers == nil {
		org.Leavers = []LeaveRecord{}
	}
	return org
}

// insertChild adds ch to d's sorted children.
func (d *dept) insertChild(ch *dept) {
	i, _ := slices.BinarySearchFunc(d.children, ch, childCmp)
	d.children = slices.Insert(d.children, i, ch)
}

// removeChild drops ch from d's children.
func (d *dept) removeChild(ch *dept) {
	if i := slices.Index(d.children, ch); i >= 0 {
		d.children = slices.Delete(d.children, i, i+1)
	}
}
