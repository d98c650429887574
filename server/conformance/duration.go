package conformance

import (
	"fmt"
	"time"
)

func parseDuration(s string) (time.Duration, error) {
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a duration (e.g. 30s)", s)
	}
	if d < time.Second || d > 10*time.Minute {
		return 0, fmt.Errorf("%v is not between 1s and 10m", d)
	}
	return d, nil
}
