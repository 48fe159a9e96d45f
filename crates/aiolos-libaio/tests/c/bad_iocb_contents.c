/* DESC: iocbs with bad contents (an iocb submitted twice, a negative offset, zero lengths, more than IOV_MAX elements, iovec lengths past SIZE_MAX, a wild buffer, RWF_NOWAIT on a directory, a descriptor number reused for another file, polls that are ready or could never fire) get the kernel's answers on every engine, never a crash. */
#include "common.h"
#include <poll.h>

/* Submits one iocb; returns io_submit's result, and the event's res when it was queued. */
static long submit_one(io_context_t ctx, struct iocb *cb, long *res)
{
	struct iocb *ptrs[1] = {cb};
	struct io_event ev[1];
	long r = io_submit(ctx, 1, ptrs);
	if (r == 1) {
		reap(ctx, ev, 1);
		CHECK(ev[0].obj == cb);
		*res = (long)ev[0].res;
	}
	return r;
}

int main(void)
{
	io_context_t ctx = 0;
	struct iocb cb, *ptrs[2];
	struct io_event ev[2];
	char buf[512];
	long res = 0, r;
	int fd;

	require_our_library();
	fd = scratch_file("data", 4096, 0);
	EXPECT_RET(io_setup(8, &ctx), 0);

	/* One iocb twice in one call: the kernel takes both; two events name it. */
	io_prep_pread(&cb, fd, buf, sizeof(buf), 0);
	ptrs[0] = ptrs[1] = &cb;
	EXPECT_RET(io_submit(ctx, 2, ptrs), 2);
	reap(ctx, ev, 2);
	CHECK(ev[0].obj == &cb && ev[1].obj == &cb);
	CHECK(ev[0].res == sizeof(buf) && ev[1].res == sizeof(buf));

	/* The same iocb again while its first submission may still run: both complete. */
	io_prep_pread(&cb, fd, buf, sizeof(buf), 0);
	ptrs[0] = &cb;
	EXPECT_RET(io_submit(ctx, 1, ptrs), 1);
	EXPECT_RET(io_submit(ctx, 1, ptrs), 1);
	reap(ctx, ev, 2);
	CHECK(ev[0].res == sizeof(buf) && ev[1].res == sizeof(buf));

	/* A negative offset: refused at submission with EINVAL. */
	io_prep_pread(&cb, fd, buf, sizeof(buf), -4096);
	EXPECT_RET(io_submit(ctx, 1, ptrs), -EINVAL);
	io_prep_pwrite(&cb, fd, buf, sizeof(buf), (long long)((1ull << 63) - 1) * -1);
	EXPECT_RET(io_submit(ctx, 1, ptrs), -EINVAL);

	/* Zero lengths: complete with 0. */
	io_prep_pread(&cb, fd, buf, 0, 0);
	EXPECT_RET(submit_one(ctx, &cb, &res), 1);
	CHECK(res == 0);
	io_prep_pwrite(&cb, fd, buf, 0, 0);
	EXPECT_RET(submit_one(ctx, &cb, &res), 1);
	CHECK(res == 0);

	/* A buffer the process cannot write: EFAULT, at submission or in the event. */
	io_prep_pread(&cb, fd, (void *)8, sizeof(buf), 0);
	r = submit_one(ctx, &cb, &res);
	CHECK(r == -EFAULT || (r == 1 && res == -EFAULT));

	/* A vectored request with more than IOV_MAX elements: EINVAL. */
	{
		static struct iovec iov[1025];
		int i;
		for (i = 0; i < 1025; i++) {
			iov[i].iov_base = buf;
			iov[i].iov_len = 1;
		}
		io_prep_preadv(&cb, fd, iov, 1025, 0);
		EXPECT_RET(io_submit(ctx, 1, ptrs), -EINVAL);
	}

	/* A length too large for a ssize_t: the kernel's overflow check, EINVAL. */
	io_prep_pread(&cb, fd, buf, (size_t)-1, 0);
	EXPECT_RET(io_submit(ctx, 1, ptrs), -EINVAL);

	/* Vectored lengths whose sum passes SIZE_MAX (each too large for a ssize_t): the
	 * kernel refuses the request with EINVAL at submission. */
	{
		static struct iovec huge[2];
		huge[0].iov_base = buf;
		huge[0].iov_len = (size_t)-1;
		huge[1].iov_base = buf;
		huge[1].iov_len = (size_t)-1;
		io_prep_preadv(&cb, fd, huge, 2, 0);
		EXPECT_RET(io_submit(ctx, 1, ptrs), -EINVAL);
		io_prep_pwritev(&cb, fd, huge, 2, 0);
		EXPECT_RET(io_submit(ctx, 1, ptrs), -EINVAL);
	}

	/* A closed descriptor: EBADF at submission. */
	{
		int dead = dup(fd);
		close(dead);
		io_prep_pread(&cb, dead, buf, sizeof(buf), 0);
		EXPECT_RET(io_submit(ctx, 1, ptrs), -EBADF);
	}

	/* A directory with RWF_NOWAIT: EOPNOTSUPP, checked before the mode (a write). */
	{
		int dir = open(".", O_RDONLY | O_DIRECTORY);
		CHECK(dir >= 0);
		io_prep_pwrite(&cb, dir, buf, sizeof(buf), 0);
		cb.aio_rw_flags = 8; /* RWF_NOWAIT */
		EXPECT_RET(io_submit(ctx, 1, ptrs), -EOPNOTSUPP);
		io_prep_pread(&cb, dir, buf, sizeof(buf), 0);
		EXPECT_RET(io_submit(ctx, 1, ptrs), -EINVAL);
		/* The number closed and given to /dev/null: a read of it is /dev/null's (0). */
		close(dir);
		CHECK(open("/dev/null", O_RDWR) == dir);
		io_prep_pread(&cb, dir, buf, sizeof(buf), 0);
		EXPECT_RET(submit_one(ctx, &cb, &res), 1);
		CHECK(res == 0);
		/* A character device is served inside io_submit, as on the kernel. */
		io_prep_pwrite(&cb, dir, buf, sizeof(buf), 0);
		EXPECT_RET(io_submit(ctx, 1, ptrs), 1);
		EXPECT_RET(io_getevents(ctx, 0, 1, ev, NULL), 1);
		CHECK(ev[0].res == sizeof(buf));
		close(dir);
	}

	/* Polls are polled once inside io_submit: a regular file is readable, so its poll
	 * is complete (io_cancel: EINVAL); a file with no poll method (a regular file,
	 * /dev/null) refuses a poll for an event it can never have (POLLPRI). */
	{
		int null = open("/dev/null", O_RDWR);
		CHECK(null >= 0);
		io_prep_poll(&cb, fd, POLLIN);
		EXPECT_RET(io_submit(ctx, 1, ptrs), 1);
		EXPECT_RET(io_cancel(ctx, &cb, ev), -EINVAL);
		EXPECT_RET(io_getevents(ctx, 0, 1, ev, NULL), 1);
		CHECK(ev[0].obj == &cb && ev[0].res == POLLIN);
		io_prep_poll(&cb, fd, POLLPRI);
		EXPECT_RET(io_submit(ctx, 1, ptrs), -EINVAL);
		io_prep_poll(&cb, null, POLLPRI);
		EXPECT_RET(io_submit(ctx, 1, ptrs), -EINVAL);
		close(null);
	}

	/* The context still works. */
	io_prep_pread(&cb, fd, buf, sizeof(buf), 0);
	EXPECT_RET(submit_one(ctx, &cb, &res), 1);
	CHECK(res == sizeof(buf));
	EXPECT_RET(io_destroy(ctx), 0);
	return 0;
}
