/* DESC: io_pgetevents applies its signal mask for the wait: a signal blocked by the thread but unblocked by the mask interrupts it (-EINTR, handler run, mask restored); one the mask blocks does not; NULL leaves the mask alone; a masked waiter is woken by a completion. */
#include "common.h"
#include <poll.h>
#include <pthread.h>
#include <signal.h>

static io_context_t ctx;
static volatile sig_atomic_t usr1_runs, usr2_runs;
static pthread_t usr1_thread;

static void on_usr1(int sig)
{
	(void)sig;
	usr1_thread = pthread_self();
	usr1_runs++;
}

static void on_usr2(int sig)
{
	(void)sig;
	usr2_runs++;
}

/* One io_pgetevents call made by a thread of its own. */
struct call {
	pthread_t th;
	long min_nr;
	struct timespec timeout;
	int use_timeout;
	int use_mask;           /* pass `mask` (else NULL) */
	sigset_t mask;          /* the mask for the wait */
	sigset_t before, after; /* the thread's own mask around the call */
	sigset_t pending;       /* signals pending on the thread after the call */
	struct io_event ev[4];
	volatile int entering;  /* about to call */
	volatile int done;
	int ret;
};

static void *caller(void *arg)
{
	struct call *c = (struct call *)arg;
	sigset_t block;

	/* The thread blocks both signals itself; only the call's mask may unblock them. */
	sigemptyset(&block);
	sigaddset(&block, SIGUSR1);
	sigaddset(&block, SIGUSR2);
	CHECK(pthread_sigmask(SIG_BLOCK, &block, NULL) == 0);
	CHECK(pthread_sigmask(SIG_BLOCK, NULL, &c->before) == 0);
	c->entering = 1;
	c->ret = io_pgetevents(ctx, c->min_nr, 4, c->ev, c->use_timeout ? &c->timeout : NULL,
			       c->use_mask ? &c->mask : NULL);
	CHECK(pthread_sigmask(SIG_BLOCK, NULL, &c->after) == 0);
	CHECK(sigpending(&c->pending) == 0);
	c->done = 1;
	return NULL;
}

static void start(struct call *c)
{
	c->entering = 0;
	c->done = 0;
	c->ret = 1234;
	if (pthread_create(&c->th, NULL, caller, c) != 0)
		FAIL("pthread_create: %s", strerror(errno));
	while (!c->entering)
		usleep(1000);
	usleep(100 * 1000); /* most likely asleep in the call by now (either way is correct) */
}

/* Waits (at most 10 s) for the call to return and joins its thread. */
static void finish(struct call *c, const char *what)
{
	double deadline = now_seconds() + 10;
	while (!c->done) {
		if (now_seconds() > deadline)
			FAIL("%s: io_pgetevents still waiting after 10 s", what);
		usleep(1000);
	}
	CHECK(pthread_join(c->th, NULL) == 0);
}

static void same_mask(const sigset_t *a, const sigset_t *b, const char *what)
{
	int sig;
	for (sig = 1; sig < 32; sig++)
		if (sigismember(a, sig) != sigismember(b, sig))
			FAIL("%s: signal %d is %s after the call, was %s before", what, sig,
			     sigismember(b, sig) ? "blocked" : "unblocked",
			     sigismember(a, sig) ? "blocked" : "unblocked");
}

static void handle(int sig, void (*fn)(int))
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = fn;
	/* SA_RESTART must not matter: an interrupted wait is -EINTR, as for ppoll. */
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	CHECK(sigaction(sig, &sa, NULL) == 0);
}

int main(void)
{
	struct call c;
	struct iocb poll_cb, *list[1];
	int p[2];

	require_our_library();
	handle(SIGUSR1, on_usr1);
	handle(SIGUSR2, on_usr2);
	EXPECT_RET(io_setup(8, &ctx), 0);

	/* 1. No request at all, no timeout, a mask that unblocks SIGUSR1: pthread_kill ends
	 * the wait with -EINTR after the handler ran on that thread; the mask is restored. */
	memset(&c, 0, sizeof(c));
	c.min_nr = 1;
	c.use_mask = 1;
	sigemptyset(&c.mask);
	sigaddset(&c.mask, SIGUSR2);
	start(&c);
	CHECK(pthread_kill(c.th, SIGUSR1) == 0);
	finish(&c, "empty context");
	EXPECT_RET(c.ret, -EINTR);
	if (usr1_runs != 1)
		FAIL("the SIGUSR1 handler ran %d times, expected once", (int)usr1_runs);
	CHECK(pthread_equal(usr1_thread, c.th));
	CHECK(sigismember(&c.after, SIGUSR1) && sigismember(&c.after, SIGUSR2));
	same_mask(&c.before, &c.after, "empty context");

	/* 2. The same with a stalled request in flight (a poll on an empty pipe). */
	CHECK(pipe(p) == 0);
	io_prep_poll(&poll_cb, p[0], POLLIN);
	poll_cb.data = (void *)&poll_cb;
	list[0] = &poll_cb;
	EXPECT_RET(io_submit(ctx, 1, list), 1);
	start(&c);
	CHECK(pthread_kill(c.th, SIGUSR1) == 0);
	finish(&c, "stalled poll");
	EXPECT_RET(c.ret, -EINTR);
	if (usr1_runs != 2)
		FAIL("the SIGUSR1 handler ran %d times, expected twice", (int)usr1_runs);
	same_mask(&c.before, &c.after, "stalled poll");

	/* 3. A signal the mask keeps blocked does not interrupt: the call times out (0) and
	 * the signal stays pending, unhandled (it dies with the thread). */
	c.use_timeout = 1;
	c.timeout.tv_sec = 0;
	c.timeout.tv_nsec = 250 * 1000 * 1000;
	start(&c);
	CHECK(pthread_kill(c.th, SIGUSR2) == 0);
	finish(&c, "blocked signal");
	EXPECT_RET(c.ret, 0);
	if (usr2_runs != 0)
		FAIL("the SIGUSR2 handler ran although the mask blocks SIGUSR2");
	CHECK(sigismember(&c.pending, SIGUSR2));
	same_mask(&c.before, &c.after, "blocked signal");

	/* 4. A NULL mask changes nothing: SIGUSR1 stays blocked, the call times out. */
	c.use_mask = 0;
	start(&c);
	CHECK(pthread_kill(c.th, SIGUSR1) == 0);
	finish(&c, "NULL mask");
	EXPECT_RET(c.ret, 0);
	if (usr1_runs != 2)
		FAIL("the SIGUSR1 handler ran during a NULL-mask call");
	same_mask(&c.before, &c.after, "NULL mask");
	CHECK(sigismember(&c.pending, SIGUSR1));

	/* 5. A caller waiting with a mask is woken by a completion: the poll fires. */
	c.use_mask = 1;
	c.use_timeout = 0;
	start(&c);
	CHECK(write(p[1], "x", 1) == 1);
	finish(&c, "completion");
	EXPECT_RET(c.ret, 1);
	CHECK(c.ev[0].obj == &poll_cb && c.ev[0].data == (void *)&poll_cb);
	CHECK((c.ev[0].res & POLLIN) != 0);
	same_mask(&c.before, &c.after, "completion");

	/* 6. A signal the mask unblocks, pending on entry, interrupts even a call that has
	 * nothing to wait for long (the kernel checks on the way out). */
	c.use_timeout = 1;
	c.timeout.tv_sec = 5;
	c.timeout.tv_nsec = 0;
	{
		sigset_t block, old;
		sigemptyset(&block);
		sigaddset(&block, SIGUSR1);
		CHECK(pthread_sigmask(SIG_BLOCK, &block, &old) == 0);
		CHECK(raise(SIGUSR1) == 0);
		CHECK(sigismember(&old, SIGUSR1) == 0);
		c.ret = io_pgetevents(ctx, 1, 4, c.ev, &c.timeout, &old);
		EXPECT_RET(c.ret, -EINTR);
		if (usr1_runs != 3)
			FAIL("the pending SIGUSR1 was not delivered by io_pgetevents");
		CHECK(pthread_sigmask(SIG_SETMASK, &old, NULL) == 0);
	}

	EXPECT_RET(io_destroy(ctx), 0);
	return 0;
}
