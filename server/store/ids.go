package store

import (
	"context"
	"fmt"
	"strings"
)

// The tables and summaries print ids cut to 8 characters. minPrefix is the shortest
// prefix a lookup accepts: shorter ones would match too much to be meant.
const minPrefix = 4

// AmbiguousIDError says which ids a prefix matches; the API answers it as bad input.
type AmbiguousIDError struct {
	Prefix  string
	Matches []string
}

func (e *AmbiguousIDError) Error() string {
	return fmt.Sprintf("id %q is ambiguous: it starts %s; give more characters", e.Prefix, strings.Join(e.Matches, ", "))
}

// resolveResultID turns what a user typed into a result id: a full result id, an
// unambiguous prefix of one, or the id (or a prefix) of the run that made the result,
// as `schedule get` and `run` print run ids.
func (s *Store) resolveResultID(ctx context.Context, ref string) (string, error) {
	if len(ref) < minPrefix || len(ref) > 36 || strings.ContainsAny(ref, "%_\\") {
		return "", ErrNotFound
	}
	var ids []string
	if err := s.db.WithContext(ctx).Model(&Result{}).Where("id LIKE ?", ref+"%").Order("id").Limit(3).Pluck("id", &ids).Error; err != nil {
		return "", err
	}
	if len(ids) == 0 {
		// A run id: the result the run produced.
		if err := s.db.WithContext(ctx).Model(&Result{}).Where("run_id LIKE ?", ref+"%").
			Order("id").Limit(3).Pluck("id", &ids).Error; err != nil {
			return "", err
		}
	}
	switch len(ids) {
	case 0:
		return "", ErrNotFound
	case 1:
		return ids[0], nil
	}
	return "", &AmbiguousIDError{Prefix: ref, Matches: ids}
}
