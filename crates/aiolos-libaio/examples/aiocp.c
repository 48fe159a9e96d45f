/*
 * aiocp -- copy a file with many asynchronous requests in flight, using O_DIRECT
 * where the file systems support it.
 *
 *     cc -O2 -I crates/aiolos-libaio/include aiocp.c -o aiocp -laio
 *     LD_LIBRARY_PATH=/opt/aiolos/lib AIOLOS_ENGINE=uring ./aiocp [-b BS] [-n QD] SRC DST
 *
 * What it shows:
 *  - finding the O_DIRECT alignment of each file: statx(STATX_DIOALIGN) (Linux 6.1+),
 *    else the device's logical block size (BLKSSZGET on a block device, sysfs for a
 *    file on one), else 512;
 *  - buffers from posix_memalign(), block sizes rounded to the offset alignment;
 *  - a queue of QD requests in flight: each slot reads a block and then writes it, and
 *    is refilled with the next block as soon as its write completes;
 *  - any file size: the last block is read whole (the read stops at end of file), padded
 *    with zeros to the alignment, written whole, and the copy is truncated to the
 *    source's size at the end;
 *  - the buffer of each request stays untouched until its completion is reaped.
 *
 * Prints one line per file (how it is accessed) and "copied N bytes" on success.
 * Part of aiolos. License: MIT OR Apache-2.0.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#include <linux/fs.h> /* BLKSSZGET */

#include <libaio.h>

#define DEFAULT_BS (1u << 20)
#define DEFAULT_QD 16

/* How one side of the copy is accessed. */
struct side {
	const char *path;
	int fd;
	int direct;         /* opened with O_DIRECT */
	size_t mem_align;   /* buffer address alignment */
	size_t off_align;   /* file offset and length alignment */
	const char *source; /* where the alignment came from */
};

/* One request slot: a block being read, then written. */
struct slot {
	struct iocb cb;
	void *buf;
	long long off;  /* file offset of the block */
	size_t want;    /* bytes of the source in this block */
	int writing;    /* 0: reading, 1: writing */
};

static void die(const char *what, int err)
{
	fprintf(stderr, "aiocp: %s: %s\n", what, strerror(err));
	exit(1);
}

static size_t max_sz(size_t a, size_t b) { return a > b ? a : b; }

static size_t align_up(size_t n, size_t a) { return (n + a - 1) / a * a; }

/* Reads a number from a sysfs file; 0 if it cannot. */
static size_t sysfs_number(const char *path)
{
	FILE *f = fopen(path, "r");
	unsigned long v = 0;
	if (!f)
		return 0;
	if (fscanf(f, "%lu", &v) != 1)
		v = 0;
	fclose(f);
	return v;
}

/* Finds the O_DIRECT alignment of an open file. */
static void discover_alignment(struct side *s)
{
	struct stat st;
	char path[128];
	size_t lbs;

#ifdef STATX_DIOALIGN
	{
		struct statx stx;
		memset(&stx, 0, sizeof(stx));
		if (statx(s->fd, "", AT_EMPTY_PATH, STATX_DIOALIGN, &stx) == 0 &&
		    (stx.stx_mask & STATX_DIOALIGN) && stx.stx_dio_mem_align != 0 &&
		    stx.stx_dio_offset_align != 0) {
			s->mem_align = stx.stx_dio_mem_align;
			s->off_align = stx.stx_dio_offset_align;
			s->source = "statx";
			return;
		}
	}
#endif
	if (fstat(s->fd, &st) != 0)
		die(s->path, errno);
	if (S_ISBLK(st.st_mode)) {
		int sz = 0;
		if (ioctl(s->fd, BLKSSZGET, &sz) == 0 && sz > 0) {
			s->mem_align = s->off_align = (size_t)sz;
			s->source = "BLKSSZGET";
			return;
		}
	}
	/* A file on a block device: the device's (or, for a partition, its disk's) queue. */
	snprintf(path, sizeof(path), "/sys/dev/block/%u:%u/queue/logical_block_size",
		 major(st.st_dev), minor(st.st_dev));
	lbs = sysfs_number(path);
	if (lbs == 0) {
		snprintf(path, sizeof(path), "/sys/dev/block/%u:%u/../queue/logical_block_size",
			 major(st.st_dev), minor(st.st_dev));
		lbs = sysfs_number(path);
	}
	if (lbs != 0) {
		s->mem_align = s->off_align = lbs;
		s->source = "logical block size";
		return;
	}
	s->mem_align = s->off_align = 512;
	s->source = "default";
}

/* Opens one side with O_DIRECT, or without it where the file system refuses it. */
static void open_side(struct side *s, int flags, mode_t mode)
{
	s->direct = 1;
	s->fd = open(s->path, flags | O_DIRECT, mode);
	if (s->fd < 0 && errno == EINVAL) {
		s->direct = 0;
		s->fd = open(s->path, flags, mode);
	}
	if (s->fd < 0)
		die(s->path, errno);
	if (s->direct) {
		discover_alignment(s);
	} else {
		s->mem_align = s->off_align = 1;
		s->source = "buffered";
	}
	printf("%s: %s, memory alignment %zu, offset alignment %zu (%s)\n", s->path,
	       s->direct ? "O_DIRECT" : "buffered", s->mem_align, s->off_align, s->source);
}

static void prep_read(struct slot *sl, int fd, size_t bs)
{
	/* The whole block: at the end of the file the read simply returns fewer bytes. */
	io_prep_pread(&sl->cb, fd, sl->buf, bs, sl->off);
	sl->cb.data = sl;
	sl->writing = 0;
}

static void prep_write(struct slot *sl, int fd, size_t align)
{
	size_t len = align_up(sl->want, align);
	/* Pad the unaligned tail with zeros; the file is truncated to size at the end. */
	memset((char *)sl->buf + sl->want, 0, len - sl->want);
	io_prep_pwrite(&sl->cb, fd, sl->buf, len, sl->off);
	sl->cb.data = sl;
	sl->writing = 1;
}

static void submit_one(io_context_t ctx, struct slot *sl)
{
	struct iocb *p = &sl->cb;
	int r;
	/* The context was made for every slot, so -EAGAIN cannot happen; retry if it does. */
	while ((r = io_submit(ctx, 1, &p)) == -EAGAIN)
		usleep(1000);
	if (r != 1)
		die("io_submit", r < 0 ? -r : EIO);
}

int main(int argc, char **argv)
{
	struct side src, dst;
	size_t bs = DEFAULT_BS, align, mem_align;
	int qd = DEFAULT_QD, opt, i, in_flight = 0;
	long long size, next = 0, copied = 0;
	struct stat st;
	struct slot *slots;
	struct io_event events[64];
	io_context_t ctx = 0;
	int r;

	memset(&src, 0, sizeof(src));
	memset(&dst, 0, sizeof(dst));
	while ((opt = getopt(argc, argv, "b:n:")) != -1) {
		switch (opt) {
		case 'b': bs = (size_t)strtoull(optarg, NULL, 0); break;
		case 'n': qd = atoi(optarg); break;
		default:
			fprintf(stderr, "usage: aiocp [-b BLOCK_SIZE] [-n QUEUE_DEPTH] SRC DST\n");
			return 2;
		}
	}
	if (argc - optind != 2 || bs == 0 || qd <= 0 || qd > 1024) {
		fprintf(stderr, "usage: aiocp [-b BLOCK_SIZE] [-n QUEUE_DEPTH] SRC DST\n");
		return 2;
	}
	src.path = argv[optind];
	dst.path = argv[optind + 1];
	open_side(&src, O_RDONLY, 0);
	if (fstat(src.fd, &st) != 0)
		die(src.path, errno);
	open_side(&dst, O_WRONLY | O_CREAT | O_TRUNC, st.st_mode & 07777);
	size = st.st_size;

	/* One buffer alignment and one block size that suit both files. */
	mem_align = max_sz(max_sz(src.mem_align, dst.mem_align), sizeof(void *));
	align = max_sz(src.off_align, dst.off_align);
	bs = align_up(bs, align);

	r = io_setup(qd, &ctx);
	if (r < 0)
		die("io_setup", -r);
	slots = (struct slot *)calloc((size_t)qd, sizeof(*slots));
	if (!slots)
		die("calloc", ENOMEM);
	for (i = 0; i < qd; i++) {
		int e = posix_memalign(&slots[i].buf, mem_align, bs);
		if (e != 0)
			die("posix_memalign", e);
	}

	/* Start a read in every slot that has a block to copy. */
	for (i = 0; i < qd && next < size; i++) {
		slots[i].off = next;
		slots[i].want = (size_t)((size - next) < (long long)bs ? size - next : (long long)bs);
		next += (long long)slots[i].want;
		prep_read(&slots[i], src.fd, bs);
		submit_one(ctx, &slots[i]);
		in_flight++;
	}

	while (in_flight > 0) {
		int n = io_getevents(ctx, 1, 64, events, NULL);
		if (n < 0)
			die("io_getevents", -n);
		for (i = 0; i < n; i++) {
			struct slot *sl = (struct slot *)events[i].data;
			long res = (long)events[i].res;
			if (res < 0)
				die(sl->writing ? "write" : "read", (int)-res);
			if (!sl->writing) {
				if ((size_t)res < sl->want) {
					/* A short read before the end of the file: read it again. */
					prep_read(sl, src.fd, bs);
				} else {
					prep_write(sl, dst.fd, dst.off_align);
				}
				submit_one(ctx, sl);
				continue;
			}
			if ((size_t)res < align_up(sl->want, dst.off_align)) {
				prep_write(sl, dst.fd, dst.off_align); /* short write: again */
				submit_one(ctx, sl);
				continue;
			}
			/* This block is done; the slot takes the next one. */
			copied += (long long)sl->want;
			if (next < size) {
				sl->off = next;
				sl->want = (size_t)((size - next) < (long long)bs ? size - next
										: (long long)bs);
				next += (long long)sl->want;
				prep_read(sl, src.fd, bs);
				submit_one(ctx, sl);
			} else {
				in_flight--;
			}
		}
	}

	/* Drop the zero padding of the last block. */
	if (ftruncate(dst.fd, size) != 0)
		die("ftruncate", errno);
	if (fsync(dst.fd) != 0)
		die("fsync", errno);
	r = io_destroy(ctx);
	if (r < 0)
		die("io_destroy", -r);
	for (i = 0; i < qd; i++)
		free(slots[i].buf); /* only now: nothing is in flight */
	free(slots);
	close(src.fd);
	close(dst.fd);
	printf("copied %lld bytes\n", copied);
	return copied == size ? 0 : 1;
}
