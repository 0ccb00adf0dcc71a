package wait

import (
	"errors"
	"testing"
	"time"
)

func TestUntilReturnsOnceTheConditionHolds(t *testing.T) {
	polls := 0
	err := Until(time.Now().Add(time.Second), func() (bool, string) {
		polls++
		return polls == 3, "not yet"
	})
	if err != nil || polls != 3 {
		t.Fatalf("Until = %v after %d polls, want nil after 3", err, polls)
	}
}

func TestUntilReportsTheLastReasonAtTheDeadline(t *testing.T) {
	polls := 0
	err := Until(time.Now().Add(30*time.Millisecond), func() (bool, string) {
		polls++
		return false, "still pending"
	})
	var te *TimeoutError
	if !errors.As(err, &te) || te.Last != "still pending" {
		t.Fatalf("Until = %v, want a TimeoutError with the last reason", err)
	}
	if polls < 2 {
		t.Fatalf("condition polled %d times before the deadline, want several", polls)
	}
}
