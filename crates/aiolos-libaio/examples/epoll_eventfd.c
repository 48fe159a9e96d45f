/*
 * epoll_eventfd -- drive asynchronous I/O completions from an epoll loop.
 *
 *     cc -O2 -I crates/aiolos-libaio/include epoll_eventfd.c -o epoll_eventfd -laio
 *     LD_LIBRARY_PATH=/opt/aiolos/lib ./epoll_eventfd [FILE]
 *
 * Every request carries an eventfd (io_set_eventfd, IOCB_FLAG_RESFD); the eventfd is
 * registered with epoll next to the program's other descriptors (here, a timerfd that
 * ticks every 100 ms, standing in for the rest of an event loop). When the eventfd is
 * readable its counter says how many completions were signalled; they are reaped with a
 * zero timeout, so the loop never blocks anywhere but in epoll_wait.
 *
 * The program writes BLOCKS blocks of FILE (default: ./epoll_eventfd.dat) with distinct
 * contents, then reads them back, keeping DEPTH requests in flight, and checks every
 * byte. It prints "N completions in M eventfd wake-ups, all data verified".
 * Part of aiolos. License: MIT OR Apache-2.0.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <libaio.h>

#define BLOCKS 64
#define BLOCK 4096
#define DEPTH 8

struct request {
	struct iocb cb;
	int block;
	int writing;
	int busy; /* submitted, completion not reaped yet: buf belongs to the request */
	unsigned char buf[BLOCK];
};

static void die(const char *what, int err)
{
	fprintf(stderr, "epoll_eventfd: %s: %s\n", what, strerror(err));
	exit(1);
}

static unsigned char pattern(int block, int i) { return (unsigned char)(block * 7 + i * 13); }

/* Prepares request r for block b (a write in the first pass, a read in the second) and
 * attaches the eventfd. io_set_eventfd comes after io_prep_*, which clears the iocb. */
static void prepare(struct request *r, int fd, int efd, int b, int writing)
{
	int i;
	r->block = b;
	r->writing = writing;
	if (writing) {
		for (i = 0; i < BLOCK; i++)
			r->buf[i] = pattern(b, i);
		io_prep_pwrite(&r->cb, fd, r->buf, BLOCK, (long long)b * BLOCK);
	} else {
		memset(r->buf, 0, BLOCK);
		io_prep_pread(&r->cb, fd, r->buf, BLOCK, (long long)b * BLOCK);
	}
	r->cb.data = r;
	io_set_eventfd(&r->cb, efd);
}

int main(int argc, char **argv)
{
	const char *path = argc > 1 ? argv[1] : "epoll_eventfd.dat";
	static struct request reqs[DEPTH];
	struct io_event events[DEPTH];
	struct epoll_event ev, fired[4];
	struct itimerspec tick = {{0, 100000000}, {0, 100000000}};
	io_context_t ctx = 0;
	int fd, efd, tfd, ep, r, i;
	int next = 0, done = 0, in_flight = 0, writing = 1;
	long completions = 0, wakeups = 0, ticks = 0;

	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd < 0)
		die(path, errno);
	/* Non-blocking, so that a wake-up with nothing to read cannot stall the loop. */
	efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (efd < 0)
		die("eventfd", errno);
	tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (tfd < 0 || timerfd_settime(tfd, 0, &tick, NULL) != 0)
		die("timerfd", errno);
	ep = epoll_create1(EPOLL_CLOEXEC);
	if (ep < 0)
		die("epoll_create1", errno);
	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN;
	ev.data.fd = efd;
	if (epoll_ctl(ep, EPOLL_CTL_ADD, efd, &ev) != 0)
		die("epoll_ctl", errno);
	ev.data.fd = tfd;
	if (epoll_ctl(ep, EPOLL_CTL_ADD, tfd, &ev) != 0)
		die("epoll_ctl", errno);

	r = io_setup(DEPTH, &ctx);
	if (r < 0)
		die("io_setup", -r);

	/* Two passes (write, then read back), each keeping DEPTH requests in flight. */
	while (writing >= 0) {
		while (in_flight < DEPTH && next < BLOCKS) {
			struct request *q = NULL;
			struct iocb *p;
			for (i = 0; i < DEPTH; i++)
				if (!reqs[i].busy) {
					q = &reqs[i];
					break;
				}
			if (!q)
				break;
			prepare(q, fd, efd, next++, writing);
			p = &q->cb;
			r = io_submit(ctx, 1, &p);
			if (r != 1)
				die("io_submit", r < 0 ? -r : EIO);
			q->busy = 1;
			in_flight++;
		}
		if (done == BLOCKS) {
			/* Pass complete. */
			if (!writing)
				break;
			writing = 0;
			next = done = 0;
			continue;
		}

		int n = epoll_wait(ep, fired, 4, 5000);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			die("epoll_wait", errno);
		if (n == 0)
			die("epoll_wait", ETIMEDOUT); /* no completion in 5 s */
		for (int k = 0; k < n; k++) {
			uint64_t count;
			if (fired[k].data.fd == tfd) {
				if (read(tfd, &count, sizeof(count)) == sizeof(count))
					ticks += (long)count; /* the rest of the event loop */
				continue;
			}
			if (read(efd, &count, sizeof(count)) != sizeof(count))
				continue; /* EAGAIN: already consumed */
			wakeups++;
			/* Reap what is there; the counter is a hint, not an exact count to wait for. */
			struct timespec zero = {0, 0};
			int got = io_getevents(ctx, 0, DEPTH, events, &zero);
			if (got < 0)
				die("io_getevents", -got);
			for (i = 0; i < got; i++) {
				struct request *q = (struct request *)events[i].data;
				long res = (long)events[i].res;
				if (res != BLOCK) {
					fprintf(stderr, "block %d: result %ld\n", q->block, res);
					return 1;
				}
				if (!q->writing)
					for (int b = 0; b < BLOCK; b++)
						if (q->buf[b] != pattern(q->block, b)) {
							fprintf(stderr, "block %d differs at byte %d\n",
								q->block, b);
							return 1;
						}
				q->busy = 0; /* its completion is reaped: the slot is free */
				in_flight--;
				done++;
				completions++;
			}
		}
	}

	r = io_destroy(ctx);
	if (r < 0)
		die("io_destroy", -r);
	close(ep);
	close(tfd);
	close(efd);
	close(fd);
	printf("%ld completions in %ld eventfd wake-ups, all data verified\n", completions,
	       wakeups);
	return completions == 2 * BLOCKS ? 0 : 1;
}
