# man/build.mk: the manual pages (section 3: <sys/ioring.h>; 4: /dev/pwring;
# 7: the model). Included by the top Makefile.
#
#   make man-check     scripts/man-check: lint, and a page for every export
#   make install       also installs them under $(PREFIX)/share/man (a page
#                      that is a `.so` link stays one)

MAN_PAGES := $(sort $(wildcard $(TOP)/man/man[1-9]/*.[1-9]))
MANDIR    ?= $(PREFIX)/share/man

.PHONY: man-check man-install
install: man-install

man-check: lib
	@$(TOP)/scripts/man-check

man-install:
	@set -e; for f in $(MAN_PAGES); do \
		sec=$$(basename $$(dirname $$f)); \
		install -d $(DESTDIR)$(MANDIR)/$$sec; \
		echo "install -m 644 $${f#$(TOP)/} $(DESTDIR)$(MANDIR)/$$sec/"; \
		install -m 644 $$f $(DESTDIR)$(MANDIR)/$$sec/; \
	done
