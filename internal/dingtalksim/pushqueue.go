package dingtalksim

import (
	"slices"
	"time"
)

// The per-corp push queues: enqueue adds, up to PushOptions.Concurrency goroutines per corp
// with work drain in order (or shuffled within PushOptions.ReorderWindow), finish records
// the outcome.

// enqueue appends it (twice when drawn as a duplicate) to its corp's queue.
func (p *pusher) enqueue(it push) {
	p.mu.Lock()
	defer p.mu.Unlock()
	q := p.queues[it.corpID]
	if q == nil {
		q = &pushQueue{}
		p.queues[it.corpID] = q
	}
	n := 1
	if p.opts.DuplicateRate > 0 && p.rng.Float64() < p.opts.DuplicateRate {
		n = 2
	}
	for range n {
		q.items = append(q.items, it)
	}
	if p.pending == 0 {
		p.idle = make(chan struct{})
	}
	p.pending += n
	p.startLocked(it.corpID)
}

// startLocked starts goroutines for corpID's queue, up to PushOptions.Concurrency in all
// and no more than it has work for, unless pushes are paused; callers hold p.mu.
func (p *pusher) startLocked(corpID string) {
	q := p.queues[corpID]
	for !p.opts.Paused && q.running < max(p.opts.Concurrency, 1) && q.running < len(q.items) {
		q.running++
		go p.drain(corpID)
	}
}

// drain delivers corpID's queue until it is empty or paused.
func (p *pusher) drain(corpID string) {
	for {
		it, o, delay, ok := p.next(corpID)
		if !ok {
			return
		}
		time.Sleep(delay)
		outcome := PushDropped
		if !o.DropToFailedList {
			outcome = p.deliver(it, o.Timeout)
		}
		p.finish(it, outcome)
	}
}

// next takes the push to send (the oldest, or a random one within the reorder window)
// and its delay; ok is false, and the goroutine stops, when there is none or pushes are
// paused.
func (p *pusher) next(corpID string) (it push, o PushOptions, delay time.Duration, ok bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	q, o := p.queues[corpID], p.opts
	if o.Paused || len(q.items) == 0 {
		q.running--
		return push{}, o, 0, false
	}
	i := 0
	if w := min(o.ReorderWindow, len(q.items)); w > 1 {
		i = p.rng.IntN(w)
	}
	it = q.items[i]
	q.items = slices.Delete(q.items, i, i+1)
	delay = o.Delay
	if o.Jitter > 0 {
		delay += time.Duration(p.rng.Int64N(int64(o.Jitter) + 1))
	}
	return it, o, delay, true
}

// finish counts a push's outcome and files it in the failed list unless delivered.
func (p *pusher) finish(it push, outcome string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.countLocked(it.corpID, outcome)
	if outcome != PushDelivered {
		p.failed[it.corpID] = append(p.failed[it.corpID], newFailedPush(it))
	}
	p.pending--
	if p.pending == 0 {
		close(p.idle)
	}
}

// count counts one push's outcome.
func (p *pusher) count(corpID, outcome string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.countLocked(corpID, outcome)
}

func (p *pusher) countLocked(corpID, outcome string) {
	m := p.outcomes[corpID]
	if m == nil {
		m = map[string]int64{}
		p.outcomes[corpID] = m
	}
	m[outcome]++
}
