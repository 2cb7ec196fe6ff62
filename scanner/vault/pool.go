package vault

import (
	"context"
	"sync"
)

// task is one unit of work (a LIST, a metadata read, a lookup); it may add
// more tasks, e.g. a LIST adds one task per key it finds.
type task func(ctx context.Context, add func(task))

// runPool runs seed and every task they add on n workers and returns when
// all are done or ctx is cancelled. The queue is unbounded so that a task
// adding work never blocks a worker; parallelism (and so the load on the
// Vault server) is bounded by n.
//
// This is not errgroup.SetLimit, which the AWS source and the runner use:
// there a task never adds work, but here a LIST adds a task per key from
// inside a worker, and errgroup's Go blocks while every slot is taken, so
// n workers each adding work would wait on one another for ever.
func runPool(ctx context.Context, n int, seed []task) {
	if n < 1 {
		n = 1
	}
	var (
		mu      sync.Mutex
		cond    = sync.NewCond(&mu)
		queue   []task
		pending int // added and not yet finished
	)
	add := func(t task) {
		mu.Lock()
		queue = append(queue, t)
		pending++
		mu.Unlock()
		cond.Signal()
	}
	for _, t := range seed {
		add(t)
	}
	// Wake waiting workers when ctx ends so they can drain and stop.
	stop := context.AfterFunc(ctx, func() {
		mu.Lock()
		cond.Broadcast()
		mu.Unlock()
	})
	defer stop()
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				mu.Lock()
				for len(queue) == 0 && pending > 0 && ctx.Err() == nil {
					cond.Wait()
				}
				if len(queue) == 0 || ctx.Err() != nil {
					mu.Unlock()
					cond.Broadcast()
					return
				}
				t := queue[0]
				queue[0] = nil
				queue = queue[1:]
				mu.Unlock()

				t(ctx, add)

				mu.Lock()
				pending--
				done := pending == 0
				mu.Unlock()
				if done {
					cond.Broadcast()
				}
			}
		}()
	}
	wg.Wait()
}
