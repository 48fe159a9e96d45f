/* DESC: the ring behind io_context_t may be moved with mremap: the context is then used at its new address (the old one is invalid, as the kernel's), completions appear there, io_destroy unmaps it there, and a ring the program unmapped is never written. */
#include "common.h"
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>

static size_t ring_bytes(io_context_t ctx)
{
	struct ring_header *h = (struct ring_header *)ctx;
	size_t bytes = sizeof(*h) + (size_t)h->nr * sizeof(struct io_event);
	return (bytes + 4095) & ~(size_t)4095;
}

/* Moves the ring of `ctx` to a fresh address, as a program would. */
static io_context_t move_ring(io_context_t ctx)
{
	size_t len = ring_bytes(ctx);
	void *target = mmap(NULL, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	void *moved;
	CHECK(target != MAP_FAILED);
	moved = mremap((void *)ctx, len, len, MREMAP_MAYMOVE | MREMAP_FIXED, target);
	if (moved == MAP_FAILED)
		FAIL("mremap of the ring: %s", strerror(errno));
	CHECK(moved == target);
	return (io_context_t)moved;
}

/* Whether a shared mapping (as the ring is: rw-s) covers `addr`, per /proc/self/maps. */
static int shared_mapping_at(const void *addr)
{
	FILE *maps = fopen("/proc/self/maps", "r");
	char line[512];
	int shared = 0;
	if (!maps)
		FAIL("open /proc/self/maps: %s", strerror(errno));
	while (fgets(line, sizeof(line), maps)) {
		unsigned long start, end;
		char perms[5];
		if (sscanf(line, "%lx-%lx %4s", &start, &end, perms) != 3)
			continue;
		if ((unsigned long)addr >= start && (unsigned long)addr < end)
			shared = perms[3] == 's';
	}
	fclose(maps);
	return shared;
}

int main(void)
{
	io_context_t ctx = 0, old, moved;
	struct iocb cb, *ptr = &cb;
	struct io_event ev[2];
	struct ring_header *ring;
	static char buf[512];
	char *page;
	size_t len;
	int fd, pipefd[2], efd;
	uint64_t n;

	require_our_library();
	fd = scratch_file("data", 4096, 0);
	EXPECT_RET(io_setup(4, &ctx), 0);
	old = ctx;
	moved = move_ring(ctx);
	len = ring_bytes(moved);

	/* The new address is the context; once it is in use the old one is not. */
	io_prep_pread(&cb, fd, buf, sizeof(buf), 0);
	EXPECT_RET(io_submit(moved, 1, &ptr), 1);
	ring = (struct ring_header *)moved;
	CHECK(ring->magic == 0xa10a10a1u);
	reap(moved, ev, 1);
	CHECK(ev[0].obj == &cb && (long)ev[0].res == (long)sizeof(buf));
	EXPECT_RET(io_submit(old, 1, &ptr), -EINVAL);
	EXPECT_RET(io_getevents(old, 0, 1, ev, NULL), -EINVAL);
	/* Completions are visible in the moved ring itself. */
	EXPECT_RET(io_submit(moved, 1, &ptr), 1);
	{
		double deadline = now_seconds() + 10;
		while (__atomic_load_n(&ring->tail, __ATOMIC_ACQUIRE) ==
			       __atomic_load_n(&ring->head, __ATOMIC_ACQUIRE) &&
		       now_seconds() < deadline)
			usleep(1000);
		CHECK(ring->tail != ring->head);
	}
	reap(moved, ev, 1);
	/* Moved twice: still the same context. */
	moved = move_ring(moved);
	EXPECT_RET(io_submit(moved, 1, &ptr), 1);
	reap(moved, ev, 1);
	EXPECT_RET(io_destroy(moved), 0);
	/* io_destroy unmapped the ring where it was. (Another thread of the process may map
	 * something new there at once, a thread's stack for one: that is no shared mapping.) */
	CHECK(!shared_mapping_at((void *)moved));
	EXPECT_RET(io_submit(moved, 1, &ptr), -EINVAL);

	/* A ring the program unmaps while a request is pending is never written: a poll
	 * completes after the program has put other memory where the ring was. */
	ctx = 0;
	EXPECT_RET(io_setup(4, &ctx), 0);
	len = ring_bytes(ctx);
	CHECK(pipe(pipefd) == 0);
	efd = eventfd(0, 0);
	CHECK(efd >= 0);
	io_prep_poll(&cb, pipefd[0], POLLIN);
	io_set_eventfd(&cb, efd);
	EXPECT_RET(io_submit(ctx, 1, &ptr), 1);
	CHECK(munmap((void *)ctx, len) == 0);
	page = (char *)mmap((void *)ctx, len, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	CHECK(page == (char *)ctx);
	memset(page, 0x5A, len);
	CHECK(write(pipefd[1], "x", 1) == 1);
	CHECK(read(efd, &n, sizeof(n)) == (ssize_t)sizeof(n) && n == 1); /* it completed */
	usleep(20 * 1000);
	{
		size_t i;
		for (i = 0; i < len; i++)
			if (page[i] != 0x5A)
				FAIL("byte %zu of memory mapped where the ring was changed to %#x after "
				     "the program unmapped the ring",
				     i, (unsigned char)page[i]);
	}
	return 0;
}
