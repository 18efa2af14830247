// SPDX-License-Identifier: GPL-2.0
/*
 * Ring pages and their user mapping.
 *
 * The pages are zeroed order-0 pages (a split block when one is at hand,
 * reached through the direct map; else single pages, vmap()ed) inserted into
 * the caller with vm_insert_pages(), so each user PTE holds a page
 * reference: freeing the ring never frees pages a process still maps.
 *
 * The mapping is created through vm_mmap() on /dev/pwring, then its file is
 * switched to a per-ring anonymous inode file. So the mapping never pins the
 * device file (closing it still cancels and frees everything), the file
 * pins this module while the mapping exists (our vm_ops stay valid), and
 * teardown can tell the mapping it made from anything else at that address.
 */
#include <linux/anon_inodes.h>
#include <linux/err.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/mm.h>
#include <linux/mman.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/version.h>
#include <linux/vmalloc.h>

#include "glue.h"

struct kapi_mem {
	unsigned long nr;
	struct page **pages;
	void *kaddr;
	bool vmapped;
	struct file *map_file;	/* identifies our user mapping; we hold a reference */
};

/* Not growable (mremap), not movable, not splittable, not inherited. */
static int pwring_vm_mremap(struct vm_area_struct *vma)
{
	return -EINVAL;
}

static int pwring_vm_may_split(struct vm_area_struct *vma, unsigned long addr)
{
	return -EINVAL;
}

static const struct vm_operations_struct pwring_vm_ops = {
	.mremap		= pwring_vm_mremap,
	.may_split	= pwring_vm_may_split,
};

static const struct file_operations pwring_map_fops = {
	.owner		= THIS_MODULE,
};

static void pwring_mem_put_pages(struct kapi_mem *m)
{
	unsigned long i;

	for (i = 0; i < m->nr && m->pages[i]; i++)
		put_page(m->pages[i]);
}

/*
 * One physically contiguous block, if the page allocator has it at once (the
 * usual case for a ring of a few pages), split into order-0 pages. The
 * kernel then needs no vmap(), which costs a mapping now and a TLB flush at
 * free. Pages past the ring's end go back at once.
 */
static bool pwring_mem_alloc_block(struct kapi_mem *m)
{
	unsigned int order = get_order(m->nr << PAGE_SHIFT);
	struct page *page;
	unsigned long i;

	if (order > PAGE_ALLOC_COSTLY_ORDER)
		return false;
	page = alloc_pages(GFP_KERNEL_ACCOUNT | __GFP_ZERO | __GFP_NOWARN | __GFP_NORETRY, order);
	if (!page)
		return false;
	split_page(page, order);
	for (i = 0; i < (1UL << order); i++) {
		if (i < m->nr)
			m->pages[i] = page + i;
		else
			__free_page(page + i);
	}
	m->kaddr = page_address(page);
	return true;
}

struct kapi_mem *kapi_mem_alloc(unsigned long nr, void **kaddr)
{
	struct kapi_mem *m = kzalloc(sizeof(*m), GFP_KERNEL_ACCOUNT);
	unsigned long i;

	if (!m)
		return NULL;
	m->nr = nr;
	m->pages = kvcalloc(nr, sizeof(*m->pages), GFP_KERNEL_ACCOUNT);
	if (!m->pages)
		goto fail;
	if (pwring_mem_alloc_block(m)) {
		*kaddr = m->kaddr;
		return m;
	}
	for (i = 0; i < nr; i++) {
		m->pages[i] = alloc_page(GFP_KERNEL_ACCOUNT | __GFP_ZERO);
		if (!m->pages[i])
			goto fail;
	}
	m->kaddr = vmap(m->pages, nr, VM_MAP, PAGE_KERNEL);
	if (!m->kaddr)
		goto fail;
	m->vmapped = true;
	*kaddr = m->kaddr;
	return m;
fail:
	kapi_mem_free(m);
	return NULL;
}

void kapi_mem_free(struct kapi_mem *m)
{
	if (m->vmapped)
		vunmap(m->kaddr);
	if (m->pages)
		pwring_mem_put_pages(m);
	kvfree(m->pages);
	if (m->map_file)
		fput(m->map_file);
	kfree(m);
}

int pwring_mmap_ring(struct kapi_file *kf, struct vm_area_struct *vma)
{
	struct kapi_mem *m = READ_ONCE(kf->map_mem);
	unsigned long num;
	int err;

	/* Only the vm_mmap() of a setup in this very task gets through. */
	if (!m || READ_ONCE(kf->map_task) != current)
		return -EINVAL;
	if (vma->vm_pgoff || vma_pages(vma) != m->nr)
		return -EINVAL;
	/*
	 * VM_IO too: without it, madvise(MADV_DOFORK) clears VM_DONTCOPY and
	 * a fork inherits the ring (found by tests/fuzz). The ring is reached
	 * by address (copies), never pinned, so refusing GUP costs nothing.
	 */
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 3, 0)
	vm_flags_set(vma, VM_DONTEXPAND | VM_DONTCOPY | VM_DONTDUMP | VM_IO);
#else
	vma->vm_flags |= VM_DONTEXPAND | VM_DONTCOPY | VM_DONTDUMP | VM_IO;
#endif
	vma->vm_ops = &pwring_vm_ops;
	vma->vm_private_data = m;
	num = m->nr;
	err = vm_insert_pages(vma, vma->vm_start, m->pages, &num);
	if (err)
		return err;
	vma_set_file(vma, m->map_file);
	return 0;
}

long kapi_mem_map_user(struct kapi_file *kf, struct kapi_mem *m,
		       unsigned long hint, unsigned long *uaddr)
{
	unsigned long flags = MAP_SHARED | (hint ? MAP_FIXED_NOREPLACE : 0);
	unsigned long addr;
	struct file *anon;

	anon = anon_inode_getfile("[pwring]", &pwring_map_fops, m, O_RDWR);
	if (IS_ERR(anon))
		return PTR_ERR(anon);
	m->map_file = anon;

	mutex_lock(&kf->map_lock);
	WRITE_ONCE(kf->map_mem, m);
	WRITE_ONCE(kf->map_task, current);
	addr = vm_mmap(kf->file, hint, m->nr << PAGE_SHIFT,
		       PROT_READ | PROT_WRITE, flags, 0);
	WRITE_ONCE(kf->map_task, NULL);
	WRITE_ONCE(kf->map_mem, NULL);
	mutex_unlock(&kf->map_lock);

	if (IS_ERR_VALUE(addr))
		return (long)addr;
	*uaddr = addr;
	return 0;
}

void kapi_mem_unmap_user(struct kapi_mem *m, unsigned long uaddr)
{
	unsigned long len = m->nr << PAGE_SHIFT;
	struct mm_struct *mm = current->mm;
	struct vm_area_struct *vma;
	bool ours;

	if (!mm || !m->map_file)
		return;
	/*
	 * Leave alone whatever the user put there after unmapping ours. (A
	 * thread of the caller that remaps the range between this check and
	 * vm_munmap() can only hurt its own process.)
	 */
	mmap_read_lock(mm);
	vma = vma_lookup(mm, uaddr);
	ours = vma && vma->vm_start == uaddr && vma->vm_end == uaddr + len &&
	       vma->vm_file == m->map_file && vma->vm_ops == &pwring_vm_ops;
	mmap_read_unlock(mm);
	if (ours)
		vm_munmap(uaddr, len);
}
