/* DESC: a signal handler may call the library, as it may make kernel AIO's system calls: a SIGALRM handler firing every 200 us submits reads while the main thread submits and reaps (each request completes once, with its data); one that sets up contexts while the main thread sets up and destroys its own; and a handler destroys a second context (later calls on it get EINVAL). */
#include "common.h"
#include <poll.h>
#include <signal.h>
#include <sys/time.h>

#define SLOTS 64
#define BS 512
#define FILE_SIZE (1 << 20)

static io_context_t ctx, ctx2;
static int fd;
static struct iocb hcb[SLOTS];
static char hbuf[SLOTS][BS];
static volatile sig_atomic_t busy[SLOTS];
static volatile sig_atomic_t next_slot, handler_submitted, handler_refused, destroy_ret = 1;

static long offset_of(long i) { return (i * 4096 + 512) % (FILE_SIZE - BS); }

static void on_alarm(int sig)
{
	int e = errno; /* a handler keeps errno, as any handler should */
	long s = next_slot % SLOTS;
	struct iocb *p = &hcb[s];
	(void)sig;
	next_slot++;
	if (busy[s])
		goto out;
	io_prep_pread(p, fd, hbuf[s], BS, offset_of(s));
	p->data = (void *)(uintptr_t)(s + 1);
	busy[s] = 1;
	if (io_submit(ctx, 1, &p) == 1)
		handler_submitted++;
	else {
		busy[s] = 0;
		handler_refused++;
	}
out:
	errno = e;
}

#define CHURN 64
static io_context_t churn_ctx[CHURN];
static volatile sig_atomic_t churned, churn_failed;
static void on_alarm_setup(int sig)
{
	int e = errno;
	(void)sig;
	if (churned < CHURN) {
		if (io_setup(1, &churn_ctx[churned]) == 0)
			churned++;
		else
			churn_failed++;
	}
	errno = e;
}

static void on_term(int sig)
{
	(void)sig;
	destroy_ret = io_destroy(ctx2);
}

static void arm(long usec)
{
	struct itimerval it = {{0, usec}, {0, usec}};
	CHECK(setitimer(ITIMER_REAL, &it, NULL) == 0);
}

int main(void)
{
	static unsigned char expect[FILE_SIZE], mine[BS];
	struct iocb cb, *cbs[1] = {&cb};
	struct io_event ev[SLOTS + 1];
	struct sigaction sa;
	long main_submitted = 0, reaped_main = 0, reaped_handler = 0;
	double end;
	int p[2];
	long i;

	require_our_library();
	fd = scratch_file("signals.dat", FILE_SIZE, 0);
	fill_pattern(expect, FILE_SIZE, 5);
	CHECK(pwrite(fd, expect, FILE_SIZE, 0) == FILE_SIZE);
	EXPECT_RET(io_setup(SLOTS + 8, &ctx), 0);

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_alarm;
	sa.sa_flags = SA_RESTART;
	CHECK(sigaction(SIGALRM, &sa, NULL) == 0);
	arm(200);
	end = now_seconds() + 1.0;
	while (now_seconds() < end) {
		int r;
		io_prep_pread(&cb, fd, mine, BS, 0);
		cb.data = NULL;
		while ((r = io_submit(ctx, 1, cbs)) == -EAGAIN || r == -EINTR)
			;
		EXPECT_RET(r, 1);
		main_submitted++;
		/* Reap until the main thread's own read is back (the handler's come along). */
		for (;;) {
			struct timespec ts = {5, 0};
			int i, mine_done = 0;
			r = io_getevents(ctx, 1, SLOTS + 1, ev, &ts);
			if (r == -EINTR)
				continue;
			if (r <= 0)
				FAIL("io_getevents returned %d (%s)", r, r < 0 ? strerror(-r) : "no event in 5 s");
			for (i = 0; i < r; i++) {
				long s = (long)(uintptr_t)ev[i].data;
				if (ev[i].res != BS)
					FAIL("a read returned %ld", (long)ev[i].res);
				if (s == 0) {
					if (memcmp(mine, expect, BS) != 0)
						FAIL("the main thread's read has the wrong data");
					reaped_main++;
					mine_done = 1;
					continue;
				}
				s--;
				if (!busy[s])
					FAIL("slot %ld completed twice", s);
				if (memcmp(hbuf[s], expect + offset_of(s), BS) != 0)
					FAIL("a handler's read (slot %ld) has the wrong data", s);
				reaped_handler++;
				busy[s] = 0;
			}
			if (mine_done)
				break;
		}
	}
	arm(0);
	while (reaped_handler < handler_submitted) {
		struct timespec ts = {5, 0};
		int i, r = io_getevents(ctx, 1, SLOTS + 1, ev, &ts);
		if (r <= 0)
			FAIL("%ld handler reads never completed", (long)(handler_submitted - reaped_handler));
		for (i = 0; i < r; i++) {
			long s = (long)(uintptr_t)ev[i].data - 1;
			if (s < 0 || !busy[s])
				FAIL("an unexpected completion (data %p)", ev[i].data);
			if (memcmp(hbuf[s], expect + offset_of(s), BS) != 0)
				FAIL("a handler's read (slot %ld) has the wrong data", s);
			busy[s] = 0;
			reaped_handler++;
		}
	}
	if (reaped_main != main_submitted)
		FAIL("main thread: %ld submitted, %ld reaped", main_submitted, reaped_main);
	if (handler_submitted < 10)
		FAIL("the handler submitted only %ld reads in 1 s", (long)handler_submitted);
	if (handler_refused)
		FAIL("io_submit from the handler refused %ld times", (long)handler_refused);
	fprintf(stderr, "main %ld, handler %ld requests\n", main_submitted, (long)handler_submitted);

	/* Contexts set up by a handler while the main thread sets up and destroys its own
	 * (the handler does not destroy: the kernel's io_destroy in a handler that interrupted
	 * io_destroy was seen to hang in the kernel). */
	sa.sa_handler = on_alarm_setup;
	CHECK(sigaction(SIGALRM, &sa, NULL) == 0);
	arm(2000);
	end = now_seconds() + 0.5;
	while (now_seconds() < end) {
		io_context_t c = 0;
		int r;
		while ((r = io_setup(1, &c)) == -EINTR)
			;
		EXPECT_RET(r, 0);
		EXPECT_RET(io_destroy(c), 0);
	}
	arm(0);
	if (churn_failed || churned < 5)
		FAIL("the handler set up %ld contexts, %ld failed", (long)churned, (long)churn_failed);
	for (i = 0; i < churned; i++)
		EXPECT_RET(io_destroy(churn_ctx[i]), 0);

	/* A handler that destroys a context (with a poll pending on it) while the main thread
	 * is inside the library. */
	CHECK(pipe(p) == 0);
	EXPECT_RET(io_setup(4, &ctx2), 0);
	io_prep_poll(&cb, p[0], POLLIN);
	EXPECT_RET(io_submit(ctx2, 1, cbs), 1);
	sa.sa_handler = on_term;
	CHECK(sigaction(SIGTERM, &sa, NULL) == 0);
	CHECK(kill(getpid(), SIGTERM) == 0);
	EXPECT_RET(destroy_ret, 0);
	EXPECT_RET(io_submit(ctx2, 1, cbs), -EINVAL);
	EXPECT_RET(io_destroy(ctx), 0);
	return 0;
}
