/* DESC: bad pointers, bad contexts and bad counts give the documented negative errno, never a crash. */
#include "common.h"
#include <sys/mman.h>

int main(void)
{
	io_context_t ctx = 0, ctx2 = (io_context_t)0x1000, dead = 0;
	io_context_t wild = (io_context_t)0x7fff0000dead000ull;
	struct iocb cb, *ptrs[2], *nullptr_ = NULL;
	struct io_event ev[2];
	struct timespec zero = {0, 0};
	struct timespec *bad_ts = (struct timespec *)8;
	void *unmapped;
	char buf[512];
	int fd;

	require_our_library();
	fd = scratch_file("data", 4096, 0);

	/* io_setup */
	EXPECT_RET(io_setup(0, &ctx), -EINVAL);
	EXPECT_RET(io_setup(-1, &ctx), -EINVAL);
	EXPECT_RET(io_setup(1, NULL), -EFAULT);
	EXPECT_RET(io_setup(1, (io_context_t *)8), -EFAULT);
	EXPECT_RET(io_setup(1, &ctx2), -EINVAL); /* *ctxp must be NULL */
	unmapped = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(unmapped != MAP_FAILED);
	EXPECT_RET(io_setup(1, (io_context_t *)unmapped), -EFAULT);
	EXPECT_RET(io_queue_init(1, (io_context_t *)unmapped), -EFAULT);
	EXPECT_RET(io_queue_init(1, (io_context_t *)3), -EFAULT);
	EXPECT_RET(io_setup(8, &ctx), 0);

	/* io_submit */
	io_prep_pread(&cb, fd, buf, sizeof(buf), 0);
	ptrs[0] = &cb;
	EXPECT_RET(io_submit(ctx, 0, ptrs), 0);
	EXPECT_RET(io_submit(ctx, -1, ptrs), -EINVAL);
	EXPECT_RET(io_submit(ctx, 1, NULL), -EFAULT);
	EXPECT_RET(io_submit(ctx, 1, (struct iocb **)unmapped), -EFAULT);
	EXPECT_RET(io_submit(ctx, 1, &nullptr_), -EFAULT);
	ptrs[1] = (struct iocb *)unmapped;
	EXPECT_RET(io_submit(ctx, 1, &ptrs[1]), -EFAULT);
	EXPECT_RET(io_submit(NULL, 1, ptrs), -EINVAL);
	EXPECT_RET(io_submit(wild, 1, ptrs), -EINVAL);
	io_prep_pread(&cb, 9999, buf, sizeof(buf), 0);
	EXPECT_RET(io_submit(ctx, 1, ptrs), -EBADF);
	io_prep_pread(&cb, fd, buf, sizeof(buf), 0);
	cb.aio_lio_opcode = 42;
	EXPECT_RET(io_submit(ctx, 1, ptrs), -EINVAL);
	io_prep_pread(&cb, fd, buf, sizeof(buf), 0);
	cb.u.c.__pad3 = 1; /* reserved field must be zero */
	EXPECT_RET(io_submit(ctx, 1, ptrs), -EINVAL);

	/* io_getevents / io_pgetevents */
	EXPECT_RET(io_getevents(NULL, 0, 1, ev, &zero), -EINVAL);
	EXPECT_RET(io_getevents(wild, 0, 1, ev, &zero), -EINVAL);
	EXPECT_RET(io_getevents(ctx, 2, 1, ev, &zero), -EINVAL); /* min_nr > nr */
	EXPECT_RET(io_getevents(ctx, -1, 1, ev, &zero), -EINVAL);
	EXPECT_RET(io_getevents(ctx, 0, -1, ev, &zero), -EINVAL);
	EXPECT_RET(io_getevents(ctx, 0, 1, ev, bad_ts), -EFAULT);
	EXPECT_RET(io_getevents(ctx, 0, 1, ev, (struct timespec *)unmapped), -EFAULT);
	EXPECT_RET(io_pgetevents(ctx, 0, 1, ev, bad_ts, NULL), -EFAULT);
	EXPECT_RET(io_pgetevents(ctx, 0, 1, ev, &zero, (sigset_t *)8), -EFAULT);
	EXPECT_RET(io_getevents(ctx, 0, 1, ev, &zero), 0);
	{
		/* A zero timeout on the heap (not read by the library itself) works too. */
		struct timespec *heap_zero = (struct timespec *)calloc(1, sizeof(*heap_zero));
		EXPECT_RET(io_getevents(ctx, 0, 1, ev, heap_zero), 0);
		free(heap_zero);
	}

	/* A completion waiting, and nowhere to put it. */
	io_prep_pread(&cb, fd, buf, sizeof(buf), 0);
	EXPECT_RET(io_submit(ctx, 1, ptrs), 1);
	usleep(100 * 1000);
	EXPECT_RET(io_getevents(ctx, 1, 1, NULL, NULL), -EFAULT);
	reap(ctx, ev, 1);
	CHECK(ev[0].res == (long)sizeof(buf));

	/* io_cancel */
	EXPECT_RET(io_cancel(ctx, &cb, ev), -EINVAL); /* already completed */
	EXPECT_RET(io_cancel(ctx, NULL, ev), -EFAULT);
	EXPECT_RET(io_cancel(ctx, (struct iocb *)unmapped, ev), -EFAULT);
	EXPECT_RET(io_cancel(wild, &cb, ev), -EINVAL);

	/* io_destroy and use after destroy */
	EXPECT_RET(io_destroy(NULL), -EINVAL);
	EXPECT_RET(io_destroy(wild), -EINVAL);
	dead = ctx;
	EXPECT_RET(io_destroy(ctx), 0);
	EXPECT_RET(io_destroy(dead), -EINVAL);
	EXPECT_RET(io_getevents(dead, 0, 1, ev, &zero), -EINVAL); /* ring unmapped: no fast path */
	EXPECT_RET(io_submit(dead, 1, ptrs), -EINVAL);
	EXPECT_RET(io_queue_run(dead), -EINVAL);
	EXPECT_RET(io_queue_release(dead), -EINVAL);

	/* Huge counts: EINVAL; above fs.aio-max-nr (without exhausting it): EAGAIN. */
	ctx = 0;
	EXPECT_RET(io_setup(INT_MAX, &ctx), -EINVAL);
	{
		FILE *f = fopen("/proc/sys/fs/aio-max-nr", "r");
		unsigned long limit = 0;
		if (f && fscanf(f, "%lu", &limit) == 1 && limit < 4000000)
			EXPECT_RET(io_setup((int)limit + 1, &ctx), -EAGAIN);
		else
			fprintf(stderr, "note: fs.aio-max-nr unreadable or huge; EAGAIN not checked\n");
		if (f)
			fclose(f);
	}
	munmap(unmapped, 4096);
	return 0;
}
