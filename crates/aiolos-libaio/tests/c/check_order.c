/* DESC: when two arguments are bad, every entry point reports the one the kernel checks first (fs/aio.c's order), on every engine. */
#include "common.h"
#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/mman.h>

#ifndef IOCB_FLAG_IOPRIO
#define IOCB_FLAG_IOPRIO (1 << 1)
#endif

/* A page that cannot be read or written (kept mapped, PROT_NONE, so that no later
 * mapping lands on it), and a page that can be read but not written. */
static void *inaccessible_page(void)
{
	void *p = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(p != MAP_FAILED);
	return p;
}

static void *read_only_page(const void *contents, size_t len)
{
	char *p = (char *)mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(p != MAP_FAILED);
	memcpy(p, contents, len);
	CHECK(mprotect(p, 4096, PROT_READ) == 0);
	return p;
}

static long submit1(io_context_t ctx, struct iocb *cb)
{
	struct iocb *p = cb;
	return io_submit(ctx, 1, &p);
}

int main(void)
{
	io_context_t ctx = 0, used = (io_context_t)0x1000;
	/* Not a context: mapped memory of zeros (libaio itself reads the ring header behind
	 * the context in io_getevents, so an unmapped one would crash it). */
	static char not_a_ring[8192] __attribute__((aligned(4096)));
	io_context_t wild = (io_context_t)(void *)not_a_ring;
	void *gone = inaccessible_page();
	struct iocb cb, *ro_iocb;
	struct io_event ev[4];
	struct timespec zero = {0, 0}, *bad_ts = (struct timespec *)gone;
	struct iovec iov, iovs[1025];
	char buf[512];
	int fd, wronly, efd, i;
	io_context_t *ro_ctxp;
	io_context_t null_ctx = 0;

	require_our_library();
	fd = scratch_file("data", 4096, 0);
	wronly = open("data", O_WRONLY);
	CHECK(wronly >= 0);
	efd = eventfd(0, 0);
	CHECK(efd >= 0);

	/* io_setup: *ctxp is read first (EFAULT), then "*ctxp != 0 or nr == 0" (EINVAL),
	 * then the size (EINVAL when it overflows, EAGAIN above fs.aio-max-nr), and the
	 * new context is written last (EFAULT, and no context is left behind). */
	EXPECT_RET(io_setup(0, (io_context_t *)gone), -EFAULT);
	EXPECT_RET(io_setup(-1, (io_context_t *)gone), -EFAULT);
	EXPECT_RET(io_setup(INT_MAX, (io_context_t *)gone), -EFAULT);
	EXPECT_RET(io_setup(0, NULL), -EFAULT);
	EXPECT_RET(io_setup(0, &used), -EINVAL);
	EXPECT_RET(io_setup(INT_MAX, &used), -EINVAL);
	EXPECT_RET(io_setup(-1, &ctx), -EINVAL);
	EXPECT_RET(io_setup(4194305, &ctx), -EINVAL);
	EXPECT_RET(io_setup(4194304, &ctx), -EAGAIN);
	ro_ctxp = (io_context_t *)read_only_page(&null_ctx, sizeof(null_ctx));
	EXPECT_RET(io_setup(0, ro_ctxp), -EINVAL);
	EXPECT_RET(io_setup(1, ro_ctxp), -EFAULT);
	CHECK(*ro_ctxp == NULL);
	CHECK(ctx == NULL);
	EXPECT_RET(io_setup(8, &ctx), 0);

	/* io_submit: the count (EINVAL) before the context (EINVAL) before the pointer
	 * array (EFAULT). */
	EXPECT_RET(io_submit(wild, -1, NULL), -EINVAL);
	EXPECT_RET(io_submit(wild, 1, NULL), -EINVAL);
	EXPECT_RET(io_submit(ctx, -1, NULL), -EINVAL);
	EXPECT_RET(io_submit(ctx, 0, NULL), 0);

	/* Inside one iocb: reserved field, then lengths, then the descriptor, then the
	 * eventfd, then the key written back, then the opcode, then the file's mode,
	 * the iovecs and the offset. */
	io_prep_pread(&cb, 9999, buf, sizeof(buf), 0);
	cb.u.c.__pad3 = 1;
	EXPECT_RET(submit1(ctx, &cb), -EINVAL); /* reserved2 before EBADF */
	io_prep_pread(&cb, 9999, buf, (size_t)-1, 0);
	EXPECT_RET(submit1(ctx, &cb), -EINVAL); /* nbytes < 0 as ssize_t before EBADF */
	io_prep_pread(&cb, 9999, buf, sizeof(buf), 0);
	cb.aio_lio_opcode = (short)42;
	EXPECT_RET(submit1(ctx, &cb), -EBADF); /* descriptor before opcode */
	io_prep_pread(&cb, 9999, buf, sizeof(buf), 0);
	io_set_eventfd(&cb, 9998);
	EXPECT_RET(submit1(ctx, &cb), -EBADF);
	io_prep_pread(&cb, fd, buf, sizeof(buf), 0);
	io_set_eventfd(&cb, 9998);
	cb.aio_lio_opcode = (short)42;
	EXPECT_RET(submit1(ctx, &cb), -EBADF); /* eventfd before opcode */
	io_prep_pread(&cb, fd, buf, sizeof(buf), 0);
	io_set_eventfd(&cb, fd); /* not an eventfd */
	cb.aio_lio_opcode = (short)42;
	EXPECT_RET(submit1(ctx, &cb), -EINVAL);
	io_prep_pread(&cb, fd, buf, sizeof(buf), 0);
	cb.aio_lio_opcode = (short)42;
	ro_iocb = (struct iocb *)read_only_page(&cb, sizeof(cb));
	EXPECT_RET(submit1(ctx, ro_iocb), -EFAULT); /* the key is written before the opcode is looked at */
	io_prep_pread(&cb, fd, buf, sizeof(buf), 0);
	cb.u.c.flags |= 1u << 5; /* aio_flags bits the kernel does not know are ignored */
	EXPECT_RET(submit1(ctx, &cb), 1);
	reap(ctx, ev, 1);
	CHECK(ev[0].res == (long)sizeof(buf));
	CHECK(cb.key == 0);
	io_prep_pread(&cb, fd, buf, sizeof(buf), 0);
	cb.key = 77; /* overwritten with 0 by io_submit */
	EXPECT_RET(submit1(ctx, &cb), 1);
	CHECK(cb.key == 0);
	reap(ctx, ev, 1);
	io_prep_pread(&cb, wronly, buf, sizeof(buf), -512);
	EXPECT_RET(submit1(ctx, &cb), -EBADF); /* not open for reading before the offset */
	io_prep_pread(&cb, wronly, buf, sizeof(buf), 0);
	cb.aio_rw_flags = 1u << 30;
	EXPECT_RET(submit1(ctx, &cb), -EOPNOTSUPP); /* unknown RWF_ flags before the mode */
	io_prep_pread(&cb, fd, buf, sizeof(buf), 0);
	cb.u.c.flags |= IOCB_FLAG_IOPRIO;
	cb.aio_reqprio = (short)(7 << 13); /* class 7 does not exist */
	EXPECT_RET(submit1(ctx, &cb), -EINVAL);
	cb.aio_fildes = 9999;
	EXPECT_RET(submit1(ctx, &cb), -EBADF); /* descriptor before priority */
	io_prep_preadv(&cb, fd, (struct iovec *)gone, 1, -512);
	EXPECT_RET(submit1(ctx, &cb), -EFAULT); /* iovec array before the offset */
	for (i = 0; i < 1025; i++) {
		iovs[i].iov_base = buf;
		iovs[i].iov_len = 1;
	}
	io_prep_preadv(&cb, wronly, iovs, 1025, 0);
	EXPECT_RET(submit1(ctx, &cb), -EBADF); /* the mode before the iovec count */
	io_prep_preadv(&cb, fd, iovs, 1025, -512);
	EXPECT_RET(submit1(ctx, &cb), -EINVAL);
	io_prep_fsync(&cb, 9999);
	cb.u.c.buf = buf;
	EXPECT_RET(submit1(ctx, &cb), -EBADF); /* descriptor before fsync's fields */
	io_prep_fsync(&cb, fd);
	cb.u.c.offset = 512;
	EXPECT_RET(submit1(ctx, &cb), -EINVAL);
	io_prep_poll(&cb, fd, POLLIN);
	cb.u.c.buf = (void *)(uintptr_t)0x10000;
	EXPECT_RET(submit1(ctx, &cb), -EINVAL); /* poll events wider than 16 bits */
	/* A bad buffer is not a submission error: the read fails in its event. */
	iov.iov_base = gone;
	iov.iov_len = sizeof(buf);
	io_prep_preadv(&cb, fd, &iov, 1, 0);
	EXPECT_RET(submit1(ctx, &cb), 1);
	reap(ctx, ev, 1);
	CHECK((long)ev[0].res == -EFAULT);

	/* io_getevents: the timeout (EFAULT) before the context (EINVAL) before the counts
	 * (EINVAL); the event array only when there is an event to store. */
	EXPECT_RET(io_getevents(wild, 0, 1, ev, bad_ts), -EFAULT);
	EXPECT_RET(io_getevents(wild, 2, 1, ev, &zero), -EINVAL);
	EXPECT_RET(io_getevents(ctx, 2, 1, NULL, bad_ts), -EFAULT);
	EXPECT_RET(io_getevents(ctx, 2, 1, NULL, &zero), -EINVAL);
	EXPECT_RET(io_getevents(ctx, 0, 1, NULL, &zero), 0);
	EXPECT_RET(io_getevents(ctx, 1, 1, (struct io_event *)gone, &zero), 0);
	EXPECT_RET(io_getevents(ctx, 0, 0, NULL, NULL), 0);
	EXPECT_RET(io_pgetevents(wild, 0, 1, ev, &zero, (sigset_t *)gone), -EFAULT);
	EXPECT_RET(io_pgetevents(ctx, 2, 1, ev, &zero, (sigset_t *)gone), -EFAULT);
	EXPECT_RET(io_pgetevents(wild, 0, 1, ev, bad_ts, NULL), -EFAULT);
	/* An event that cannot be stored stays in the ring. */
	io_prep_pread(&cb, fd, buf, sizeof(buf), 0);
	EXPECT_RET(submit1(ctx, &cb), 1);
	{
		double deadline = now_seconds() + 10;
		long r;
		while ((r = io_getevents(ctx, 1, 1, (struct io_event *)gone, &zero)) == 0 &&
		       now_seconds() < deadline)
			usleep(1000);
		EXPECT_RET(r, -EFAULT);
	}
	reap(ctx, ev, 1);
	CHECK(ev[0].obj == &cb && ev[0].res == (long)sizeof(buf));

	/* io_cancel: the iocb's key (EFAULT, then EINVAL) before the context. */
	EXPECT_RET(io_cancel(wild, (struct iocb *)gone, ev), -EFAULT);
	io_prep_pread(&cb, fd, buf, sizeof(buf), 0);
	cb.key = 5;
	EXPECT_RET(io_cancel(wild, &cb, ev), -EINVAL);
	EXPECT_RET(io_cancel(ctx, &cb, ev), -EINVAL);
	cb.key = 0;
	EXPECT_RET(io_cancel(wild, &cb, ev), -EINVAL);

	/* io_destroy: a context that is not one. */
	EXPECT_RET(io_destroy(wild), -EINVAL);
	EXPECT_RET(io_destroy(ctx), 0);
	EXPECT_RET(io_destroy(ctx), -EINVAL);
	close(efd);
	return 0;
}
