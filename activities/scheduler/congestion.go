package scheduler

import (
	"sync"
	"time"
)

// congestionCooldown is how long a worker asks a scheduler by signal after an ask by
// update went unanswered.
const congestionCooldown = 30 * time.Second

// congestion remembers, per scheduler, that an ask by update went unanswered (the
// scheduler is busy: Temporal takes at most 10 updates of a workflow at once, and a
// scheduler behind a burst of orders answers late). Every order of a burst would
// otherwise hold its workflow task for answerTimeout before asking by signal,
// keeping the worker's workflow task slots from everything else; after one
// unanswered ask, the orders of the next congestionCooldown ask by signal at once.
type congestion struct {
	mu    sync.Mutex
	until map[string]time.Time
}

// useUpdate says whether to ask scheduler id by update at now.
func (c *congestion) useUpdate(id string, now time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	u, ok := c.until[id]
	if ok && !now.Before(u) {
		delete(c.until, id)
		return true
	}
	return !ok
}

// unanswered records that an ask by update of scheduler id failed at now.
func (c *congestion) unanswered(id string, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.until == nil {
		c.until = map[string]time.Time{}
	}
	c.until[id] = now.Add(congestionCooldown)
}
