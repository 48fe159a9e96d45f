/* DESC: reads of O_NONBLOCK files with nothing to read (a timerfd, a socket, a pipe, an
 * eventfd) complete at once with -EAGAIN, as kernel AIO's read inside io_submit answers,
 * never waiting in the engine; an eventfd with a count is read; writes of anonymous files
 * (eventfd, timerfd, epoll: no write_iter) are refused by io_submit with EINVAL; and
 * io_destroy then returns, with nothing left in flight. */
#include "common.h"
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>

static io_context_t ctx;

/* Submits one read or write of fd and returns its event's res (the request must complete
 * within 10 s: reap() fails otherwise). */
static long one(int fd, int write, void *buf, size_t len)
{
	struct iocb cb, *ptr = &cb;
	struct io_event ev;
	if (write)
		io_prep_pwrite(&cb, fd, buf, len, 0);
	else
		io_prep_pread(&cb, fd, buf, len, 0);
	EXPECT_RET(io_submit(ctx, 1, &ptr), 1);
	reap(ctx, &ev, 1);
	CHECK(ev.obj == &cb);
	return (long)ev.res;
}

static void refused(int fd, void *buf, size_t len)
{
	struct iocb cb, *ptr = &cb;
	io_prep_pwrite(&cb, fd, buf, len, 0);
	EXPECT_RET(io_submit(ctx, 1, &ptr), -EINVAL);
}

int main(void)
{
	uint64_t v = 0, one_ = 1;
	char b[8];
	int sv[2], p[2];
	int tfd, efd, ep;

	require_our_library();
	EXPECT_RET(io_setup(8, &ctx), 0);

	tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK);
	CHECK(tfd >= 0);
	CHECK(one(tfd, 0, &v, sizeof(v)) == -EAGAIN);

	CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) == 0);
	CHECK(one(sv[0], 0, b, sizeof(b)) == -EAGAIN);

	CHECK(pipe2(p, O_NONBLOCK) == 0);
	CHECK(one(p[0], 0, b, sizeof(b)) == -EAGAIN);

	efd = eventfd(5, EFD_NONBLOCK);
	CHECK(efd >= 0);
	CHECK(one(efd, 0, &v, sizeof(v)) == 8 && v == 5);
	CHECK(one(efd, 0, &v, sizeof(v)) == -EAGAIN);

	ep = epoll_create1(0);
	CHECK(ep >= 0);
	refused(efd, &one_, sizeof(one_));
	refused(tfd, &one_, sizeof(one_));
	refused(ep, &one_, sizeof(one_));

	EXPECT_RET(io_destroy(ctx), 0);
	return 0;
}
