/* DESC: the LIBAIO_0.1 compatibility versions (4-argument io_getevents, 2-argument io_cancel, io_queue_wait) resolve and behave. */
#include "common.h"

typedef int (*getevents_01_t)(io_context_t, long, struct io_event *, struct timespec *);
typedef int (*getevents_04_t)(io_context_t, long, long, struct io_event *, struct timespec *);
typedef int (*cancel_01_t)(io_context_t, struct iocb *);
typedef int (*queue_wait_t)(io_context_t, struct timespec *);

static void *sym(const char *name, const char *version)
{
	void *p = dlvsym(RTLD_DEFAULT, name, version);
	if (!p)
		FAIL("dlvsym(%s, %s): %s", name, version, dlerror());
	return p;
}

int main(void)
{
	io_context_t ctx = 0;
	struct iocb cb, *ptr = &cb;
	struct io_event ev[2];
	struct timespec zero = {0, 0}, ten = {10, 0};
	char buf[256];
	int fd;
	getevents_01_t getevents_01;
	getevents_04_t getevents_04;
	cancel_01_t cancel_01;
	queue_wait_t wait_01, wait_04;

	require_our_library();
	getevents_01 = (getevents_01_t)sym("io_getevents", "LIBAIO_0.1");
	getevents_04 = (getevents_04_t)sym("io_getevents", "LIBAIO_0.4");
	cancel_01 = (cancel_01_t)sym("io_cancel", "LIBAIO_0.1");
	wait_01 = (queue_wait_t)sym("io_queue_wait", "LIBAIO_0.1");
	wait_04 = (queue_wait_t)sym("io_queue_wait", "LIBAIO_0.4");
	CHECK((void *)getevents_01 != (void *)getevents_04);
	CHECK(sym("io_getevents", "LIBAIO_0.4") == (void *)&io_getevents); /* default version */
	sym("io_setup", "LIBAIO_0.4");
	sym("io_submit", "LIBAIO_0.1");
	sym("io_pgetevents", "LIBAIO_0.5");

	fd = scratch_file("data", 4096, 0);
	EXPECT_RET(io_setup(4, &ctx), 0);
	EXPECT_RET(getevents_01(ctx, 2, ev, &zero), 0);
	EXPECT_RET(wait_01(ctx, &zero), 0);
	EXPECT_RET(wait_04(ctx, &zero), 0);

	io_prep_pread(&cb, fd, buf, sizeof(buf), 0);
	EXPECT_RET(io_submit(ctx, 1, &ptr), 1);
	/* 0.1 io_getevents waits for at least one event (min_nr = 1). */
	EXPECT_RET(getevents_01(ctx, 2, ev, &ten), 1);
	CHECK(ev[0].obj == &cb && ev[0].res == (long)sizeof(buf));
	/* 0.1 io_cancel: a completed request cannot be cancelled. */
	EXPECT_RET(cancel_01(ctx, &cb), -EINVAL);
	EXPECT_RET(cancel_01((io_context_t)0x5000, &cb), -EINVAL);
	EXPECT_RET(io_destroy(ctx), 0);
	EXPECT_RET(getevents_01(ctx, 1, ev, &zero), -EINVAL);
	return 0;
}
