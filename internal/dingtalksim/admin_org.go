package dingtalksim

import (
	"fmt"
	"net/http"
	"strconv"
)

// Admin handlers that mutate an org: each goes through the Go mutation methods, so every
// change is recorded as an event.

// adminCreate decodes a T from the body and creates it in the corp the query names.
func adminCreate[T any](r *http.Request, create func(corpID string, v T) (T, error)) (int, any, error) {
	corpID, err := corpParam(r)
	if err != nil {
		return 0, nil, err
	}
	var v T
	if err := readJSON(r, &v); err != nil {
		return 0, nil, err
	}
	out, err := create(corpID, v)
	return http.StatusCreated, out, err
}

func (s *Server) adminAddUser(r *http.Request) (int, any, error) { return adminCreate(r, s.AddUser) }

// adminPatchUser overlays the body on the current user, so only the fields given change.
func (s *Server) adminPatchUser(r *http.Request) (int, any, error) {
	corpID, err := corpParam(r)
	if err != nil {
		return 0, nil, err
	}
	u, err := s.currentUser(corpID, r.PathValue("userid"))
	if err != nil {
		return 0, nil, err
	}
	if err := readJSON(r, &u); err != nil {
		return 0, nil, err
	}
	if u.UserID != r.PathValue("userid") {
		return 0, nil, fmt.Errorf("%w: userid cannot change", ErrInvalid)
	}
	out, err := s.UpdateUser(corpID, u)
	return http.StatusOK, out, err
}

func (s *Server) currentUser(corpID, userID string) (User, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if c := s.corps[corpID]; c != nil {
		if u := c.users[userID]; u != nil {
			return u.User.clone(), nil
		}
	}
	return User{}, fmt.Errorf("%w: user %q of corp %q", ErrNotFound, userID, corpID)
}

func (s *Server) adminRemoveUser(r *http.Request) (int, any, error) {
	corpID, err := corpParam(r)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusNoContent, nil, s.RemoveUser(corpID, r.PathValue("userid"))
}

func (s *Server) adminMoveUser(r *http.Request) (int, any, error) {
	corpID, err := corpParam(r)
	if err != nil {
		return 0, nil, err
	}
	var req struct {
		From int64 `json:"from"`
		To   int64 `json:"to"`
	}
	if err := readJSON(r, &req); err != nil {
		return 0, nil, err
	}
	out, err := s.MoveUser(corpID, r.PathValue("userid"), req.From, req.To)
	return http.StatusOK, out, err
}

func (s *Server) adminAddDepartment(r *http.Request) (int, any, error) {
	return adminCreate(r, s.AddDepartment)
}

// adminPatchDepartment overlays the body on the current department.
func (s *Server) adminPatchDepartment(r *http.Request) (int, any, error) {
	corpID, err := corpParam(r)
	if err != nil {
		return 0, nil, err
	}
	id, err := deptParam(r)
	if err != nil {
		return 0, nil, err
	}
	d, err := s.currentDepartment(corpID, id)
	if err != nil {
		return 0, nil, err
	}
	if err := readJSON(r, &d); err != nil {
		return 0, nil, err
	}
	if d.ID != id {
		return 0, nil, fmt.Errorf("%w: dept_id cannot change", ErrInvalid)
	}
	out, err := s.UpdateDepartment(corpID, d)
	return http.StatusOK, out, err
}

func (s *Server) currentDepartment(corpID string, id int64) (Department, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if c := s.corps[corpID]; c != nil {
		if d := c.depts[id]; d != nil {
			return d.Department.clone(), nil
		}
	}
	return Department{}, fmt.Errorf("%w: department %d of corp %q", ErrNotFound, id, corpID)
}

func deptParam(r *http.Request) (int64, error) {
	id, err := strconv.ParseInt(r.PathValue("deptId"), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%w: department id %q", ErrInvalid, r.PathValue("deptId"))
	}
	return id, nil
}

func (s *Server) adminRemoveDepartment(r *http.Request) (int, any, error) {
	corpID, err := corpParam(r)
	if err != nil {
		return 0, nil, err
	}
	id, err := deptParam(r)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusNoContent, nil, s.RemoveDepartment(corpID, id)
}

func (s *Server) adminEvents(r *http.Request) (int, any, error) {
	corpID, err := corpParam(r)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, map[string]any{"events": s.Events(corpID)}, nil
}
