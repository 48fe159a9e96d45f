/* DESC: a descriptor number closed and reused for a directory is refused as the directory it
 * now is: EINVAL from io_submit (a directory has no read method), as kernel AIO answers,
 * even right after a read of the file the number named before. */
#include "common.h"

int main(void)
{
	io_context_t ctx = 0;
	struct iocb cb, *ptr = &cb;
	struct io_event ev;
	char buf[512];
	int fd, dfd;

	require_our_library();
	fd = scratch_file("data", 4096, 0);
	EXPECT_RET(io_setup(2, &ctx), 0);
	io_prep_pread(&cb, fd, buf, sizeof(buf), 0);
	EXPECT_RET(io_submit(ctx, 1, &ptr), 1);
	reap(ctx, &ev, 1);
	CHECK(ev.res == (long)sizeof(buf));
	CHECK(close(fd) == 0);
	if (mkdir("dir", 0700) != 0 && errno != EEXIST)
		FAIL("mkdir: %s", strerror(errno));
	dfd = open("dir", O_RDONLY | O_DIRECTORY);
	CHECK(dfd == fd); /* the lowest free number: the one just closed */
	io_prep_pread(&cb, dfd, buf, sizeof(buf), 0);
	EXPECT_RET(io_submit(ctx, 1, &ptr), -EINVAL);
	CHECK(close(dfd) == 0);
	EXPECT_RET(io_destroy(ctx), 0);
	return 0;
}
