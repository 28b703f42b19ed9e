package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/jmoiron/sqlx"
)

// Role rules: the DingTalk facts that grant eHR roles (the keys of bindings.role_rules, whose
// values name the role each grants; a rule left out grants nothing).
const (
	RuleOrgAdmin     = "org_admin"      // an admin of the DingTalk org
	RuleLeaderInDept = "leader_in_dept" // leader of a department: the role covers its subtree
	RuleEveryone     = "everyone"       // every active employee
	RuleGrant        = "grant"          // granted by hand (role_grants)
)

// deriveRolesSQL writes the roles of the corp's ($1) active employees listed in the temp
// table role_targets, from the binding's rules and the explicit grants.
const deriveRolesSQL = `INSERT INTO employee_roles (corp_id, userid, role, scope_dept_id, rule)
	SELECT $1, e.userid, b.role_rules ->> 'org_admin', 0, 'org_admin'
	  FROM employees e JOIN role_targets t USING (userid) JOIN bindings b ON b.corp_id = e.corp_id
	  WHERE e.corp_id = $1 AND e.status = 'active' AND (e.attrs ->> 'admin')::boolean AND b.role_rules ? 'org_admin'
	UNION
	SELECT $1, ed.userid, b.role_rules ->> 'leader_in_dept', ed.dept_id, 'leader_in_dept'
	  FROM employee_departments ed JOIN role_targets t USING (userid)
	  JOIN employees e ON e.corp_id = ed.corp_id AND e.userid = ed.userid AND e.status = 'active'
	  JOIN bindings b ON b.corp_id = ed.corp_id
	  WHERE ed.corp_id = $1 AND ed.is_leader AND b.role_rules ? 'leader_in_dept'
	UNION
	SELECT $1, e.userid, b.role_rules ->> 'everyone', 0, 'everyone'
	  FROM employees e JOIN role_targets t USING (userid) JOIN bindings b ON b.corp_id = e.corp_id
	  WHERE e.corp_id = $1 AND e.status = 'active' AND b.role_rules ? 'everyone'
	UNION
	SELECT $1, g.userid, g.role, g.scope_dept_id, 'grant'
	  FROM role_grants g JOIN role_targets t USING (userid)
	  JOIN employees e ON e.corp_id = g.corp_id AND e.userid = g.userid AND e.status = 'active'
	  WHERE g.corp_id = $1
	ON CONFLICT DO NOTHING`

// refreshRoles recomputes the roles of the employees listed in role_targets (a temp table the
// caller filled): their rows are deleted and derived again, so a leaver ends with none and a
// moved leader's scope follows the move, in the caller's transaction.
func refreshRoles(ctx context.Context, tx *sqlx.Tx, corpID string) error {
	if _, err := tx.ExecContext(ctx, `DELETE FROM employee_roles r USING role_targets t
		WHERE r.corp_id = $1 AND r.userid = t.userid`, corpID); err != nil {
		return fmt.Errorf("refresh roles: %w", err)
	}
	if _, err := tx.ExecContext(ctx, deriveRolesSQL, corpID); err != nil {
		return fmt.Errorf("refresh roles: %w", err)
	}
	return nil
}

// refreshRolesOf recomputes the roles of the employees the query (taking $1 corp id and the
// rest of args) selects, by userid.
func refreshRolesOf(ctx context.Context, tx *sqlx.Tx, corpID, selectUserIDs string, args ...any) error {
	if _, err := tx.ExecContext(ctx, `CREATE TEMP TABLE IF NOT EXISTS role_targets (userid text PRIMARY KEY) ON COMMIT DROP`); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `TRUNCATE role_targets`); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO role_targets (userid) `+selectUserIDs+` ON CONFLICT DO NOTHING`,
		append([]any{corpID}, args...)...); err != nil {
		return fmt.Errorf("refresh roles: %w", err)
	}
	return refreshRoles(ctx, tx, corpID)
}

// EmployeeRole is one role an employee holds, with why.
type EmployeeRole struct {
	UserID      string `db:"userid" json:"userid"`
	Name        string `db:"name" json:"name"`
	Role        string `db:"role" json:"role"`
	ScopeDeptID int64  `db:"scope_dept_id" json:"scopeDeptId"`
	ScopeName   string `db:"scope_name" json:"scope"`
	Rule        string `db:"rule" json:"rule"`
	GrantedBy   string `db:"granted_by" json:"grantedBy,omitempty"`
	Because     string `db:"because" json:"because"`
}

// ListRoles returns the corp's roles of one employee (userID) or of one role (role), each
// explained from current names ("manager of 华东大区 because leader_in_dept").
func (s *Store) ListRoles(ctx context.Context, corpID, userID, role string) ([]EmployeeRole, error) {
	out := []EmployeeRole{}
	err := s.db.SelectContext(ctx, &out, `SELECT r.userid, coalesce(e.name, '') AS name, r.role, r.scope_dept_id,
		  CASE WHEN r.scope_dept_id = 0 THEN 'the whole org' ELSE coalesce(d.name, 'department ' || r.scope_dept_id) END AS scope_name,
		  r.rule, coalesce(g.granted_by, '') AS granted_by,
		  CASE r.rule
		    WHEN 'org_admin' THEN r.role || ' of the whole org because org_admin (an admin in DingTalk)'
		    WHEN 'leader_in_dept' THEN r.role || ' of ' || coalesce(d.name, 'department ' || r.scope_dept_id) || ' (and its sub-departments) because leader_in_dept'
		    WHEN 'everyone' THEN r.role || ' of themselves because everyone'
		    ELSE r.role || ' of ' || CASE WHEN r.scope_dept_id = 0 THEN 'the whole org' ELSE coalesce(d.name, 'department ' || r.scope_dept_id) END
		         || ' because granted by ' || g.granted_by || CASE WHEN g.reason <> '' THEN ': ' || g.reason ELSE '' END
		  END AS because
		FROM employee_roles r
		LEFT JOIN employees e ON e.corp_id = r.corp_id AND e.userid = r.userid
		LEFT JOIN departments d ON d.corp_id = r.corp_id AND d.dept_id = r.scope_dept_id
		LEFT JOIN role_grants g ON r.rule = 'grant' AND g.corp_id = r.corp_id AND g.userid = r.userid AND g.role = r.role AND g.scope_dept_id = r.scope_dept_id
		WHERE r.corp_id = $1 AND ($2 = '' OR r.userid = $2) AND ($3 = '' OR r.role = $3)
		ORDER BY r.userid, r.role, r.scope_dept_id`, corpID, userID, role)
	return out, err
}

// Grant is an explicit role grant.
type Grant struct {
	CorpID, UserID, Role string
	ScopeDeptID          int64 // 0: the whole org
	By, Reason           string
}

// ErrNotEmployee is returned when a grant names no active employee of the corp.
var ErrNotEmployee = errors.New("not an active employee")

// GrantRole records an explicit grant and gives the role at once, logging who granted it.
func (s *Store) GrantRole(ctx context.Context, g Grant) error {
	if strings.TrimSpace(g.Role) == "" {
		return errors.New("a grant needs a role name")
	}
	return s.inTx(ctx, func(tx *sqlx.Tx) error {
		var n int
		if err := tx.GetContext(ctx, &n, `SELECT count(*) FROM employees WHERE corp_id = $1 AND userid = $2 AND status = 'active'`,
			g.CorpID, g.UserID); err != nil {
			return err
		}
		if n == 0 {
			return fmt.Errorf("%s of corp %s is %w: find userids with `starter changes --corp-id %s --userid ...` or in hr_employees", g.UserID, g.CorpID, ErrNotEmployee, g.CorpID)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO role_grants (corp_id, userid, role, scope_dept_id, granted_by, reason)
			VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (corp_id, userid, role, scope_dept_id)
			DO UPDATE SET granted_by = EXCLUDED.granted_by, reason = EXCLUDED.reason, granted_at = now()`,
			g.CorpID, g.UserID, g.Role, g.ScopeDeptID, g.By, g.Reason); err != nil {
			return err
		}
		if err := refreshRolesOf(ctx, tx, g.CorpID, `SELECT userid FROM employees WHERE corp_id = $1 AND userid = $2`, g.UserID); err != nil {
			return err
		}
		return logOp(ctx, tx, g.CorpID, g.By, "grant role", map[string]any{"userid": g.UserID, "role": g.Role,
			"scope_dept_id": g.ScopeDeptID, "reason": g.Reason})
	})
}

// RevokeRole removes an explicit grant (roles DingTalk facts grant stay).
func (s *Store) RevokeRole(ctx context.Context, g Grant) error {
	return s.inTx(ctx, func(tx *sqlx.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM role_grants WHERE corp_id = $1 AND userid = $2 AND role = $3 AND scope_dept_id = $4`,
			g.CorpID, g.UserID, g.Role, g.ScopeDeptID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("%s has no grant of %s (scope %d) to revoke: see `starter roles show --corp-id %s --userid %s`",
				g.UserID, g.Role, g.ScopeDeptID, g.CorpID, g.UserID)
		}
		if err := refreshRolesOf(ctx, tx, g.CorpID, `SELECT userid FROM employees WHERE corp_id = $1 AND userid = $2`, g.UserID); err != nil {
			return err
		}
		return logOp(ctx, tx, g.CorpID, g.By, "revoke role", map[string]any{"userid": g.UserID, "role": g.Role, "scope_dept_id": g.ScopeDeptID})
	})
}

// RoleRules maps the rules that derive roles from DingTalk facts to the role each grants.
type RoleRules map[string]string

// derivedRules are the rules a binding can set (RuleGrant is for explicit grants).
var derivedRules = []string{RuleOrgAdmin, RuleLeaderInDept, RuleEveryone}

// Validate refuses unknown rules and empty role names.
func (r RoleRules) Validate() error {
	for rule, role := range r {
		known := false
		for _, k := range derivedRules {
			known = known || k == rule
		}
		if !known {
			return fmt.Errorf("unknown role rule %q: the rules are %s", rule, strings.Join(derivedRules, ", "))
		}
		if strings.TrimSpace(role) == "" {
			return fmt.Errorf("rule %s grants no role: name one, or leave the rule out to grant nothing", rule)
		}
	}
	return nil
}

// GetRoleRules returns the corp's role rules.
func (s *Store) GetRoleRules(ctx context.Context, corpID string) (RoleRules, error) {
	var raw []byte
	if err := s.db.GetContext(ctx, &raw, `SELECT role_rules FROM bindings WHERE corp_id = $1`, corpID); err != nil {
		return nil, fmt.Errorf("corp %s: read role rules: %w", corpID, err)
	}
	rules := RoleRules{}
	return rules, json.Unmarshal(raw, &rules)
}

// SetRoleRules replaces the corp's role rules and recomputes every employee's roles with them.
func (s *Store) SetRoleRules(ctx context.Context, corpID, actor string, rules RoleRules) error {
	if err := rules.Validate(); err != nil {
		return err
	}
	raw, err := json.Marshal(rules)
	if err != nil {
		return err
	}
	return s.inTx(ctx, func(tx *sqlx.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE bindings SET role_rules = $2, updated_at = now() WHERE corp_id = $1`, corpID, raw)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return UnknownCorpError(corpID)
		}
		if err := lockCorpWrites(ctx, tx, corpID); err != nil {
			return err
		}
		if err := refreshRolesOf(ctx, tx, corpID, `SELECT userid FROM employees WHERE corp_id = $1
			UNION SELECT userid FROM employee_roles WHERE corp_id = $1`); err != nil {
			return err
		}
		return logOp(ctx, tx, corpID, actor, "set role rules", map[string]any{"rules": rules})
	})
}
