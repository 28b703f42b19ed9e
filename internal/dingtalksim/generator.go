package dingtalksim

import (
	"cmp"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"time"
)

// OrgSpec says what GenerateOrg builds. Ratios are fractions of Employees; for the ratios
// 0 means the default and a negative value means none.
type OrgSpec struct {
	// Seed makes the org reproducible: the same spec always yields the same org.
	Seed int64 `json:"seed"`
	// Employees is the number of current users.
	Employees int `json:"employees"`
	// MembersPerDept is the average department size (default 20), so there are about
	// Employees/MembersPerDept departments.
	MembersPerDept int `json:"membersPerDept"`
	// MaxDepth is the deepest level of the tree, the root being level 1 (default 5).
	MaxDepth int `json:"maxDepth"`
	// MultiDeptRatio is the share of users in two departments (default 0.05).
	MultiDeptRatio float64 `json:"multiDeptRatio"`
	// InactiveRatio is the share of users who have not activated DingTalk (default 0.02).
	InactiveRatio float64 `json:"inactiveRatio"`
	// ExtensionRatio is the share of users with extension fields (default 0.3).
	ExtensionRatio float64 `json:"extensionRatio"`
	// LeaverRatio is the number of past departures, as a share of Employees (default 0.01).
	LeaverRatio float64 `json:"leaverRatio"`
	// CorpName names the root department (default 模拟科技有限公司).
	CorpName string `json:"corpName"`
}

func (s OrgSpec) withDefaults() OrgSpec {
	ratio := func(v *float64, def float64) {
		switch {
		case *v == 0:
			*v = def
		case *v < 0:
			*v = 0
		}
	}
	if s.MembersPerDept <= 0 {
		s.MembersPerDept = 20
	}
	if s.MaxDepth <= 0 {
		s.MaxDepth = 5
	}
	ratio(&s.MultiDeptRatio, 0.05)
	ratio(&s.InactiveRatio, 0.02)
	ratio(&s.ExtensionRatio, 0.3)
	ratio(&s.LeaverRatio, 0.01)
	if s.CorpName == "" {
		s.CorpName = "模拟科技有限公司"
	}
	return s
}

// generator holds the state of one GenerateOrg run.
type generator struct {
	spec    OrgSpec
	corpID  string
	rng     *rand.Rand
	depts   []Department
	depth   []int // depth of depts[i], root = 1
	index   map[int64]int
	members [][]int // user indexes per department index
	users   []User
	leaders [][]int // leader user indexes per department index
}

// epoch anchors generated dates so that the same seed gives the same org on any day.
var epoch = time.Date(2008, 1, 1, 0, 0, 0, 0, time.FixedZone("CST", 8*3600))

// GenerateOrg builds a realistic org for corpID, deterministically from spec: a department
// tree under the root with fan-out up to spec.MaxDepth, users with Chinese names (many
// duplicates, some rare characters), about spec.MultiDeptRatio of them in two departments,
// leaders in most departments, extension fields as JSON strings, non-unique job numbers,
// and past leavers. Install it with Server.LoadOrg.
func GenerateOrg(corpID string, spec OrgSpec) Org {
	spec = spec.withDefaults()
	g := &generator{
		spec:   spec,
		corpID: corpID,
		rng:    rand.New(rand.NewPCG(uint64(spec.Seed), 0x6469_6e67_7461_6c6b)),
		index:  map[int64]int{},
	}
	g.departments()
	g.people()
	g.assignLeaders()
	org := Org{CorpID: corpID, Departments: g.depts, Users: g.users, Leavers: g.leavers()}
	slices.SortFunc(org.Users, func(a, b User) int { return strings.Compare(a.UserID, b.UserID) })
	return org
}

// departments grows the tree breadth first with a fan-out that reaches about
// Employees/MembersPerDept departments within MaxDepth levels.
func (g *generator) departments() {
	n := max(1, int(math.Round(float64(g.spec.Employees)/float64(g.spec.MembersPerDept))))
	g.addDept(Department{ID: RootDepartmentID, Name: g.spec.CorpName}, -1)
	fanout := 2.0
	if g.spec.MaxDepth > 1 {
		fanout = max(2, math.Pow(float64(n), 1/float64(g.spec.MaxDepth-1)))
	}
	for next := 0; next < len(g.depts) && len(g.depts) < n; next++ {
		if g.depth[next] >= g.spec.MaxDepth || (next > 0 && g.rng.Float64() < 0.15) {
			continue // a leaf
		}
		k := int(fanout * (0.5 + g.rng.Float64()))
		for i := 0; i < max(k, 1) && len(g.depts) < n; i++ {
			g.addDept(Department{}, next)
		}
	}
	for len(g.depts) < n { // the random leaves stopped growth early: top up
		p := g.rng.IntN(len(g.depts))
		if g.depth[p] < g.spec.MaxDepth {
			g.addDept(Department{}, p)
		}
	}
	g.members = make([][]int, len(g.depts))
	g.leaders = make([][]int, len(g.depts))
}

// addDept appends d as a child of depts[parent] (parent -1: d is the root).
func (g *generator) addDept(d Department, parent int) {
	if parent >= 0 {
		p := g.depts[parent]
		d.ID = 100_000_000 + int64(len(g.depts))*10 + g.rng.Int64N(10)
		d.ParentID = p.ID
		d.Name = g.deptName(parent, g.depth[parent]+1)
		d.Order = g.rng.Int64N(1_000_000)
		if g.rng.Float64() < 0.3 {
			d.CreateDeptGroup, d.AutoAddUser = true, true
			d.DeptGroupChatID = fmt.Sprintf("chat%016x", g.rng.Uint64())
			d.GroupContainSubDept = g.rng.IntN(2) == 0
		}
		if g.rng.Float64() < 0.02 {
			d.HideDept, d.DeptPermits = true, []int64{p.ID}
		}
		if g.rng.Float64() < 0.01 {
			d.OuterDept, d.OuterPermitDepts = true, []int64{p.ID}
		}
		if g.rng.Float64() < 0.1 {
			d.Code = fmt.Sprintf("D%05d", len(g.depts))
		}
	}
	g.index[d.ID] = len(g.depts)
	g.depts = append(g.depts, d)
	depth := 1
	if parent >= 0 {
		depth = g.depth[parent] + 1
	}
	g.depth = append(g.depth, depth)
}

// deptName picks a name for a new child of depts[parent], unique among its siblings (names
// repeat freely across the tree, as in real orgs).
func (g *generator) deptName(parent, depth int) string {
	list := teamNames
	switch depth {
	case 2:
		list = divisionNames
	case 3:
		list = sectionNames
	}
	base := list[g.rng.IntN(len(list))]
	name := base
	for n := 2; g.siblingNamed(parent, name); n++ {
		name = base + "（" + strconv.Itoa(n) + "）"
	}
	return name
}

func (g *generator) siblingNamed(parent int, name string) bool {
	pid := g.depts[parent].ID
	for i := len(g.depts) - 1; i > parent; i-- { // children come after their parent
		if g.depts[i].ParentID == pid && g.depts[i].Name == name {
			return true
		}
	}
	return false
}

// people creates the users and their memberships.
func (g *generator) people() {
	n := g.spec.Employees
	g.users = make([]User, n)
	jobNumbers := make([]string, 0, n)
	for i := range g.users {
		u := &g.users[i]
		u.UserID = g.userID(i)
		u.UnionID = g.unionID(i)
		u.Name = g.name(i)
		u.StateCode = "86"
		u.Active = g.rng.Float64() >= g.spec.InactiveRatio
		u.Admin, u.Boss = i < 3, i == 0
		u.Title = titles[g.rng.IntN(len(titles))]
		g.contact(u, i)
		switch r := g.rng.Float64(); {
		case r < 0.01 && len(jobNumbers) > 0:
			u.JobNumber = jobNumbers[g.rng.IntN(len(jobNumbers))] // not unique, as in real orgs
		case r < 0.96:
			u.JobNumber = fmt.Sprintf("E%06d", i+1)
			jobNumbers = append(jobNumbers, u.JobNumber)
		}
		if g.rng.Float64() < 0.97 {
			u.HiredDate = epoch.AddDate(0, 0, g.rng.IntN(17*365)).UnixMilli()
		}
		if g.rng.Float64() < g.spec.ExtensionRatio {
			ext, _ := json.Marshal(map[string]string{
				"爱好": hobbies[g.rng.IntN(len(hobbies))],
				"工位": fmt.Sprintf("%c-%d-%02d", 'A'+g.rng.IntN(4), 1+g.rng.IntN(9), 1+g.rng.IntN(40)),
			})
			u.Extension = string(ext)
		}
		u.ExclusiveAccount = g.rng.Float64() < 0.005
		u.RealAuthed = u.Active && g.rng.Float64() < 0.9
		u.Senior = g.rng.Float64() < 0.01
		u.RoleList = []Role{}
		if u.Admin {
			u.RoleList = append(u.RoleList, Role{ID: 1001, Name: "主管理员", GroupName: "默认"})
		}
		g.placeUser(i)
	}
}

// contact fills the optional contact fields of users[i].
func (g *generator) contact(u *User, i int) {
	if g.rng.Float64() < 0.97 {
		u.Mobile = g.mobile(i)
	}
	u.HideMobile = g.rng.Float64() < 0.02
	if g.rng.Float64() < 0.5 {
		u.Email = fmt.Sprintf("%d@qq.com", 100_000_000+i*13)
	}
	if g.rng.Float64() < 0.7 {
		u.OrgEmail = fmt.Sprintf("e%06d@%s.example.cn", i+1, strings.ToLower(g.corpID))
	}
	if g.rng.Float64() < 0.6 {
		u.WorkPlace = workPlaces[g.rng.IntN(len(workPlaces))]
	}
	if g.rng.Float64() < 0.02 {
		u.Remark = remarks[g.rng.IntN(len(remarks))]
	}
	if g.rng.Float64() < 0.1 {
		u.Telephone = fmt.Sprintf("0571-8%07d", g.rng.IntN(10_000_000))
	}
	if u.Active && g.rng.Float64() < 0.7 {
		u.Avatar = fmt.Sprintf("https://static-legacy.dingtalk.com/media/lADP%016x_240_240.jpg", g.rng.Uint64())
	}
}

// placeUser puts users[i] in one department (the first three users, the executives, in the
// root), or two for about MultiDeptRatio of them.
func (g *generator) placeUser(i int) {
	u := &g.users[i]
	first := 0
	if i >= 3 && len(g.depts) > 1 {
		first = 1 + g.rng.IntN(len(g.depts)-1)
	}
	idx := []int{first}
	if len(g.depts) > 1 && g.rng.Float64() < g.spec.MultiDeptRatio {
		second := g.rng.IntN(len(g.depts) - 1)
		if second >= first {
			second++
		}
		idx = append(idx, second)
	}
	for _, d := range idx {
		id := g.depts[d].ID
		u.DeptIDList = append(u.DeptIDList, id)
		u.DeptOrderList = append(u.DeptOrderList, DeptOrder{DeptID: id, Order: g.rng.Int64N(1 << 31)})
		u.LeaderInDept = append(u.LeaderInDept, LeaderInDept{DeptID: id})
		g.members[d] = append(g.members[d], i)
	}
}

// assignLeaders makes one leader in most departments (none in some, two in a few), sets
// each department's owner and each user's manager.
func (g *generator) assignLeaders() {
	for d, ms := range g.members {
		if len(ms) == 0 {
			continue
		}
		k := 1
		switch r := g.rng.Float64(); {
		case d == 0:
			ms = ms[:1] // the boss leads the root
		case r < 0.1:
			k = 0
		case r < 0.2 && len(ms) > 1:
			k = 2
		}
		for _, ui := range ms[:k] {
			u := &g.users[ui]
			u.LeaderInDept[slices.IndexFunc(u.LeaderInDept, func(l LeaderInDept) bool { return l.DeptID == g.depts[d].ID })].Leader = true
			u.Title = leaderTitles[g.rng.IntN(len(leaderTitles))]
			if len(u.RoleList) == 0 {
				u.RoleList = append(u.RoleList, Role{ID: 1002, Name: "主管", GroupName: "职务"})
			}
			g.leaders[d] = append(g.leaders[d], ui)
		}
		if k > 0 {
			g.depts[d].OrgDeptOwner = g.users[ms[0]].UserID
		}
	}
	for i := range g.users {
		u := &g.users[i]
		for d := g.index[u.DeptIDList[0]]; d >= 0; d = g.parentIndex(d) {
			if l := g.leaders[d]; len(l) > 0 && l[0] != i {
				u.ManagerUserID = g.users[l[0]].UserID
				break
			}
		}
	}
}

func (g *generator) parentIndex(d int) int {
	if d == 0 {
		return -1
	}
	return g.index[g.depts[d].ParentID]
}

// leavers makes past departures with userids no current user has.
func (g *generator) leavers() []LeaveRecord {
	n := int(math.Round(float64(g.spec.Employees) * g.spec.LeaverRatio))
	out := make([]LeaveRecord, n)
	start := time.Date(2024, 1, 1, 0, 0, 0, 0, epoch.Location())
	for j := range out {
		i := g.spec.Employees + j
		out[j] = LeaveRecord{
			UserID:      g.userID(i),
			Name:        g.name(i),
			StateCode:   "86",
			Mobile:      g.mobile(i),
			LeaveTime:   start.Add(time.Duration(g.rng.Int64N(int64(730 * 24 * time.Hour)))).Truncate(time.Second),
			LeaveReason: leaveReasons[g.rng.IntN(len(leaveReasons))],
		}
	}
	slices.SortFunc(out, func(a, b LeaveRecord) int { return cmp.Compare(a.LeaveTime.UnixNano(), b.LeaveTime.UnixNano()) })
	return out
}

// userID is unique per index: the executives get "manager…" ids, everyone else a
// 16-digit id that may start with 0 (it is a string, never a number).
func (g *generator) userID(i int) string {
	if i < 3 {
		return fmt.Sprintf("manager%d", 1000+i*37+g.rng.IntN(37))
	}
	return fmt.Sprintf("%02d%07d%07d", g.rng.IntN(100), i, g.rng.IntN(10_000_000))
}

// unionID is unique per index thanks to its fixed-width base-36 suffix.
func (g *generator) unionID(i int) string {
	const letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	var b [24]byte
	for k := range 20 {
		b[k] = letters[g.rng.IntN(len(letters))]
	}
	suffix := strconv.FormatInt(int64(i), 36)
	copy(b[20:], strings.Repeat("0", 4-len(suffix))+suffix)
	return string(b[:])
}

// mobile is unique per index: 7919 is coprime with 10^8, so i*7919 mod 10^8 never repeats.
func (g *generator) mobile(i int) string {
	return mobilePrefixes[g.rng.IntN(len(mobilePrefixes))] + fmt.Sprintf("%08d", (i*7919)%100_000_000)
}

// name draws a Chinese name, deliberately reusing earlier names (same name, different
// userid) and now and then using rare characters, a dotted or a Latin name.
func (g *generator) name(i int) string {
	r := g.rng.Float64()
	switch {
	case r < 0.1 && i > 0:
		return g.users[g.rng.IntN(min(i, len(g.users)))].Name
	case r < 0.105:
		return g.surname() + rareGivenNames[g.rng.IntN(len(rareGivenNames))]
	case r < 0.11:
		return dottedNames[g.rng.IntN(len(dottedNames))]
	case r < 0.113:
		return latinNames[g.rng.IntN(len(latinNames))]
	}
	return g.surname() + givenNames[g.rng.IntN(len(givenNames))]
}

// surname favours the 20 most common surnames, as real name distributions do.
func (g *generator) surname() string {
	if g.rng.Float64() < 0.6 {
		return surnames[g.rng.IntN(20)]
	}
	return surnames[g.rng.IntN(len(surnames))]
}
