/* DESC: a signal handler that runs while io_getevents waits ends the wait with -EINTR, with or without SA_RESTART, with or without a timeout, and again for a second signal; a wait that already holds an event returns it instead; a signal the thread blocks stays pending through the calls and the thread's mask comes back unchanged (the kernel's answers). */
#include "common.h"
#include <poll.h>
#include <signal.h>
#include <sys/time.h>

int main(void)
{
	io_context_t ctx = 0;
	struct iocb cb[2], *cbs[2] = {&cb[0], &cb[1]};
	struct io_event ev[4];
	struct sigaction sa;
	int p[2], q[2], restart;
	char c;

	require_our_library();
	EXPECT_RET(io_setup(8, &ctx), 0);
	CHECK(pipe(p) == 0 && pipe(q) == 0);
	for (restart = 0; restart < 2; restart++) {
		struct timespec two = {2, 0}, zero = {0, 0}, short_wait = {0, 20000000};
		sigset_t block, old, after, pending;

		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = count_alarm;
		sa.sa_flags = restart ? SA_RESTART : 0;
		CHECK(sigaction(SIGALRM, &sa, NULL) == 0);
		/* A poll that completes only when the test writes to the pipe. */
		io_prep_poll(&cb[0], p[0], POLLIN);
		cb[0].data = (void *)1;
		EXPECT_RET(io_submit(ctx, 1, cbs), 1);

		alarm_hits = 0;
		arm_alarm(50, 0);
		EXPECT_RET(io_getevents(ctx, 1, 4, ev, NULL), -EINTR);
		CHECK(alarm_hits == 1);
		alarm_hits = 0;
		arm_alarm(50, 0);
		EXPECT_RET(io_getevents(ctx, 1, 4, ev, &two), -EINTR);
		CHECK(alarm_hits == 1);
		/* Twice: each signal ends one wait. */
		alarm_hits = 0;
		arm_alarm(30, 30);
		EXPECT_RET(io_getevents(ctx, 1, 4, ev, NULL), -EINTR);
		EXPECT_RET(io_getevents(ctx, 1, 4, ev, NULL), -EINTR);
		arm_alarm(0, 0);
		CHECK(alarm_hits >= 2);

		/* One event in hand and a second wanted: the signal ends the wait with the one. */
		io_prep_poll(&cb[1], q[0], POLLIN);
		cb[1].data = (void *)2;
		EXPECT_RET(io_submit(ctx, 1, &cbs[1]), 1);
		CHECK(write(q[1], "x", 1) == 1);
		alarm_hits = 0;
		arm_alarm(200, 0);
		EXPECT_RET(io_getevents(ctx, 2, 4, ev, NULL), 1);
		CHECK(alarm_hits == 1 && ev[0].data == (void *)2);
		CHECK(read(q[0], &c, 1) == 1);

		/* A signal the thread blocks stays pending through the calls, waiting or not: the
		 * thread's own mask is in effect in them (and comes back unchanged). */
		sigemptyset(&block);
		sigaddset(&block, SIGALRM);
		CHECK(sigprocmask(SIG_BLOCK, &block, &old) == 0);
		alarm_hits = 0;
		CHECK(raise(SIGALRM) == 0);
		EXPECT_RET(io_getevents(ctx, 0, 4, ev, &zero), 0);
		EXPECT_RET(io_getevents(ctx, 1, 4, ev, &short_wait), 0);
		CHECK(alarm_hits == 0);
		CHECK(sigpending(&pending) == 0 && sigismember(&pending, SIGALRM));
		CHECK(sigprocmask(SIG_SETMASK, &old, &after) == 0);
		CHECK(sigismember(&after, SIGALRM) && alarm_hits == 1);

		/* The poll completes; its event is reaped once. */
		CHECK(write(p[1], "x", 1) == 1);
		reap(ctx, ev, 1);
		CHECK(ev[0].data == (void *)1);
		CHECK(read(p[0], &c, 1) == 1);
		EXPECT_RET(io_getevents(ctx, 0, 4, ev, &zero), 0);
	}
	EXPECT_RET(io_destroy(ctx), 0);
	return 0;
}
