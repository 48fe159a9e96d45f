/* DESC: requests completing while the program computes or waits in epoll_wait never make epoll_wait (or another call of the program's) fail with EINTR: kernel AIO sends no signal, and neither may an engine. Counted over a fixed number of polls completed by another thread and of O_DIRECT reads. */
#include "common.h"
#include <poll.h>
#include <pthread.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>

#define POLLS 600
#define READS 3000
#define BATCH 8
#define BLOCK 4096
#define FILE_BLOCKS 4096

/* Stays in user space for about `us` microseconds (the vDSO clock makes no system call),
 * as a program does between calls: completions arrive meanwhile. */
static void compute(double us)
{
	double until = now_seconds() + us / 1e6;
	while (now_seconds() < until)
		;
}

static int pipefd[2];

struct loop {
	io_context_t ctx;
	int ep, efd;
	int eintr, other;
};

/* The event loop: until `want` events are reaped, compute a little, wait briefly in
 * epoll_wait for the eventfd, and take what is done. A program that does not expect EINTR
 * stops at the first one; this loop counts them. */
static void run_until(struct loop *l, struct io_event *ev, int want)
{
	int reaped = 0;
	while (reaped < want) {
		struct epoll_event ready;
		uint64_t n;
		int r;
		compute(50);
		r = epoll_wait(l->ep, &ready, 1, 1);
		if (r < 0) {
			if (errno != EINTR)
				FAIL("epoll_wait: %s", strerror(errno));
			l->eintr++;
		} else if (r == 1 && read(l->efd, &n, sizeof(n)) < 0 && errno == EINTR) {
			l->other++;
		}
		r = io_getevents(l->ctx, 0, want - reaped, ev + reaped, NULL);
		CHECK(r >= 0);
		reaped += r;
	}
}

struct poker {
	int fd;
	int count;
};

static void *write_later(void *arg)
{
	struct poker *p = (struct poker *)arg;
	int i;
	for (i = 0; i < p->count; i++) {
		char c = 'x';
		usleep(100 + (unsigned)(i % 7) * 40);
		if (write(p->fd, &c, 1) != 1)
			return NULL;
		usleep(400);
	}
	return NULL;
}

int main(void)
{
	struct loop l;
	struct iocb cbs[BATCH], *ptrs[BATCH];
	struct io_event ev[BATCH];
	struct epoll_event want;
	struct poker pk;
	pthread_t writer;
	void *bufs[BATCH];
	static char chunk[1 << 16];
	int fd, i, round;
	char sink[64];

	require_our_library();
	memset(&l, 0, sizeof(l));
	l.efd = eventfd(0, EFD_NONBLOCK);
	l.ep = epoll_create1(0);
	CHECK(l.efd >= 0 && l.ep >= 0);
	memset(&want, 0, sizeof(want));
	want.events = EPOLLIN;
	CHECK(epoll_ctl(l.ep, EPOLL_CTL_ADD, l.efd, &want) == 0);
	EXPECT_RET(io_setup(BATCH, &l.ctx), 0);

	/* Polls that another thread makes ready a few hundred microseconds later. */
	CHECK(pipe(pipefd) == 0);
	pk.fd = pipefd[1];
	pk.count = POLLS;
	CHECK(pthread_create(&writer, NULL, write_later, &pk) == 0);
	for (i = 0; i < POLLS; i++) {
		io_prep_poll(&cbs[0], pipefd[0], POLLIN);
		io_set_eventfd(&cbs[0], l.efd);
		ptrs[0] = &cbs[0];
		EXPECT_RET(io_submit(l.ctx, 1, ptrs), 1);
		run_until(&l, ev, 1);
		CHECK((long)ev[0].res & POLLIN);
		CHECK(read(pipefd[0], sink, 1) == 1);
	}
	pthread_join(writer, NULL);

	/* O_DIRECT reads from all over a file whose pages were dropped from the cache. */
	fd = scratch_file("data", 0, 0);
	memset(chunk, 0x42, sizeof(chunk));
	for (i = 0; i < FILE_BLOCKS * BLOCK / (int)sizeof(chunk); i++)
		CHECK(write(fd, chunk, sizeof(chunk)) == (ssize_t)sizeof(chunk));
	CHECK(fdatasync(fd) == 0);
	CHECK(posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED) == 0);
	close(fd);
	fd = open("data", O_RDONLY | O_DIRECT);
	if (fd < 0) {
		fprintf(stderr, "note: no O_DIRECT here (%s): polls only\n", strerror(errno));
	} else {
		for (i = 0; i < BATCH; i++)
			CHECK(posix_memalign(&bufs[i], BLOCK, BLOCK) == 0);
		for (round = 0; round < READS / BATCH; round++) {
			for (i = 0; i < BATCH; i++) {
				long blk = ((long)(round * BATCH + i) * 2654435761L) % FILE_BLOCKS;
				io_prep_pread(&cbs[i], fd, bufs[i], BLOCK, (long long)blk * BLOCK);
				io_set_eventfd(&cbs[i], l.efd);
				ptrs[i] = &cbs[i];
			}
			EXPECT_RET(io_submit(l.ctx, BATCH, ptrs), BATCH);
			run_until(&l, ev, BATCH);
			for (i = 0; i < BATCH; i++)
				CHECK((long)ev[i].res == BLOCK);
		}
	}
	if (l.eintr || l.other)
		FAIL("epoll_wait failed with EINTR %d times and read %d times over %d polls and %d "
		     "reads, with no signal sent",
		     l.eintr, l.other, POLLS, fd < 0 ? 0 : READS);
	EXPECT_RET(io_destroy(l.ctx), 0);
	return 0;
}
