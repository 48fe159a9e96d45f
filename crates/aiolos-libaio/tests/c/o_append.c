/* DESC: a write on an O_APPEND file goes to the end of the file, whatever offset the iocb names. */
#include "common.h"

int main(void)
{
	io_context_t ctx = 0;
	struct iocb cb, *ptr = &cb;
	struct io_event ev;
	char first[100], second[50], back[150];
	struct stat st;
	int fd;

	require_our_library();
	fd = scratch_file("data", 0, O_APPEND);
	fill_pattern(first, sizeof(first), 1);
	fill_pattern(second, sizeof(second), 2);
	EXPECT_RET(io_setup(2, &ctx), 0);
	io_prep_pwrite(&cb, fd, first, sizeof(first), 0);
	EXPECT_RET(io_submit(ctx, 1, &ptr), 1);
	reap(ctx, &ev, 1);
	CHECK(ev.res == (long)sizeof(first));
	io_prep_pwrite(&cb, fd, second, sizeof(second), 0); /* offset 0, but O_APPEND */
	EXPECT_RET(io_submit(ctx, 1, &ptr), 1);
	reap(ctx, &ev, 1);
	CHECK(ev.res == (long)sizeof(second));
	CHECK(fstat(fd, &st) == 0 && st.st_size == 150);
	CHECK(pread(fd, back, sizeof(back), 0) == 150);
	CHECK(memcmp(back, first, 100) == 0 && memcmp(back + 100, second, 50) == 0);
	EXPECT_RET(io_destroy(ctx), 0);
	return 0;
}
