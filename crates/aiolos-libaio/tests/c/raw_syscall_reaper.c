/* DESC: a program that takes io_setup, io_submit and io_destroy from the library but reaps with the kernel's io_getevents itself (syscall(SYS_io_getevents), as MariaDB's InnoDB does), and so imports no reaping call, gets kernel contexts on every engine: its system calls find them, with the events of its writes and reads. */
#define AIOLOS_TEST_NO_GETEVENTS
#include "common.h"
#include <sys/syscall.h>

#define BLOCK 4096

/* The kernel's io_getevents, called as such programs call it. */
static long kernel_getevents(io_context_t ctx, long min_nr, long nr, struct io_event *ev)
{
	struct timespec ts = {10, 0};
	long r = syscall(SYS_io_getevents, ctx, min_nr, nr, ev, &ts);
	if (r < 0)
		FAIL("syscall(SYS_io_getevents): %s", strerror(errno));
	return r;
}

int main(void)
{
	io_context_t ctx = 0;
	struct iocb cb, *ptr = &cb;
	struct io_event ev;
	static char w[BLOCK], r[BLOCK];
	int fd, i;

	require_our_library();
	fd = scratch_file("data", 0, 0);
	EXPECT_RET(io_setup(8, &ctx), 0);
	for (i = 0; i < 8; i++) {
		fill_pattern(w, BLOCK, (unsigned)i);
		io_prep_pwrite(&cb, fd, w, BLOCK, (long long)i * BLOCK);
		EXPECT_RET(io_submit(ctx, 1, &ptr), 1);
		CHECK(kernel_getevents(ctx, 1, 1, &ev) == 1);
		CHECK(ev.obj == &cb && ev.res == BLOCK);
		memset(r, 0, BLOCK);
		io_prep_pread(&cb, fd, r, BLOCK, (long long)i * BLOCK);
		EXPECT_RET(io_submit(ctx, 1, &ptr), 1);
		CHECK(kernel_getevents(ctx, 1, 1, &ev) == 1);
		CHECK(ev.obj == &cb && ev.res == BLOCK && check_pattern(r, BLOCK, (unsigned)i));
	}
	EXPECT_RET(io_destroy(ctx), 0);
	close(fd);
	return 0;
}
