# userlib/build.mk: libpwring (static and shared), its pkg-config file, the
# header checks and the examples. Included by the top Makefile (TOP, BUILD).
#
#   make lib        $(BUILD)/lib/libpwring.{a,so,so.0}, $(BUILD)/lib/pkgconfig/libpwring.pc
#   make examples   $(BUILD)/examples/* (static binaries)
#   make install    DESTDIR, PREFIX (default /usr/local), LIBDIR (default PREFIX/lib):
#                   LIBDIR/, include/sys/ioring.h, include/linux/pwring.h,
#                   LIBDIR/pkgconfig/libpwring.pc

PREFIX          ?= /usr/local
LIBDIR          ?= $(PREFIX)/lib
PWRING_VERSION  := 0.1.0
PWRING_SOMAJOR  := 0

UL_DIR          := $(TOP)/userlib
UL_OBJ          := $(BUILD)/userlib
UL_LIBDIR       := $(BUILD)/lib
# The ABI header is installed as <linux/pwring.h>; in the tree it is copied to
# the same relative place so that <sys/ioring.h> includes it the same way.
UL_ABI_HDR      := $(UL_OBJ)/include/linux/pwring.h
UL_INCLUDES     := -I$(UL_DIR)/include -I$(UL_OBJ)/include

UL_WARN         := -Wall -Wextra -Werror
UL_CFLAGS       := -std=c11 -D_GNU_SOURCE -O2 -g $(UL_WARN) -MMD -MP $(UL_INCLUDES) $(CFLAGS)
UL_LIB_CFLAGS   := $(UL_CFLAGS) -fPIC -fvisibility=hidden

UL_LIB_A        := $(UL_LIBDIR)/libpwring.a
UL_LIB_SO_REAL  := $(UL_LIBDIR)/libpwring.so.$(PWRING_VERSION)
UL_LIB_SO_MAJOR := $(UL_LIBDIR)/libpwring.so.$(PWRING_SOMAJOR)
UL_LIB_SO       := $(UL_LIBDIR)/libpwring.so
UL_PC           := $(UL_LIBDIR)/pkgconfig/libpwring.pc
UL_LIB_OBJS     := $(UL_OBJ)/ioring.o

UL_EXAMPLE_SRCS := $(wildcard $(UL_DIR)/examples/*.c)
UL_EXAMPLES     := $(patsubst $(UL_DIR)/examples/%.c,$(BUILD)/examples/%,$(UL_EXAMPLE_SRCS))

# The public header must build in each of these (see src/header-check.c).
UL_HDR_C_STDS   := gnu89 gnu99 c99 c11 c17
UL_HDR_CXX_STDS := c++11 c++14 c++17 c++20
UL_HDR_STAMPS   := $(patsubst %,$(UL_OBJ)/hdrcheck/%.stamp,$(UL_HDR_C_STDS) $(UL_HDR_CXX_STDS))

# Build packages install themselves once (scripts/deps is quiet when present).
UL_DEPS_STAMP   := $(UL_OBJ)/.deps-build

.PHONY: userlib-install
lib: $(UL_LIB_A) $(UL_LIB_SO) $(UL_LIB_SO_MAJOR) $(UL_PC) $(UL_HDR_STAMPS)
examples: $(UL_EXAMPLES)
install: userlib-install

$(UL_DEPS_STAMP):
	@mkdir -p $(@D)
	$(TOP)/scripts/deps build
	@touch $@

$(UL_ABI_HDR): $(TOP)/uapi/pwring.h | $(UL_DEPS_STAMP)
	@mkdir -p $(@D)
	cp $< $@

$(UL_OBJ)/%.o: $(UL_DIR)/src/%.c $(UL_ABI_HDR) | $(UL_DEPS_STAMP)
	@mkdir -p $(@D)
	$(CC) $(UL_LIB_CFLAGS) -c -o $@ $<

$(UL_LIB_A): $(UL_LIB_OBJS)
	@mkdir -p $(@D)
	rm -f $@
	$(AR) rcs $@ $^

$(UL_LIB_SO_REAL): $(UL_LIB_OBJS) $(UL_DIR)/src/libpwring.map
	@mkdir -p $(@D)
	$(CC) -shared -fPIC -Wl,-soname,libpwring.so.$(PWRING_SOMAJOR) \
		-Wl,--version-script=$(UL_DIR)/src/libpwring.map -Wl,-z,defs -Wl,-z,relro \
		-o $@ $(UL_LIB_OBJS) -pthread $(LDFLAGS)

$(UL_LIB_SO_MAJOR): $(UL_LIB_SO_REAL)
	ln -sf $(notdir $<) $@

$(UL_LIB_SO): $(UL_LIB_SO_MAJOR)
	ln -sf $(notdir $<) $@

# The pkg-config file of the build tree names the install prefix; `make install`
# writes its own copy for the PREFIX it is given.
$(UL_PC): $(UL_DIR)/libpwring.pc.in
	@mkdir -p $(@D)
	sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@LIBDIR@|$(LIBDIR)|g' \
		-e 's|@VERSION@|$(PWRING_VERSION)|g' $< > $@

$(UL_OBJ)/hdrcheck/%.stamp: $(UL_DIR)/src/header-check.c $(UL_DIR)/include/sys/ioring.h \
			    $(UL_ABI_HDR) | $(UL_DEPS_STAMP)
	@mkdir -p $(@D)
	$(if $(filter c++%,$*),$(CXX) -x c++,$(CC)) -std=$* $(UL_WARN) \
		$(if $(filter c11 c17 c++%,$*),-pedantic) -O2 $(UL_INCLUDES) -fsyntax-only $<
	@touch $@

$(BUILD)/examples/%: $(UL_DIR)/examples/%.c $(UL_LIB_A) | $(UL_DEPS_STAMP)
	@mkdir -p $(@D) $(UL_OBJ)/examples
	$(CC) $(UL_CFLAGS) -MF $(UL_OBJ)/examples/$*.d -static -o $@ $< $(UL_LIB_A) -pthread $(LDFLAGS)

userlib-install: lib
	install -d $(DESTDIR)$(LIBDIR)/pkgconfig $(DESTDIR)$(PREFIX)/include/sys \
		$(DESTDIR)$(PREFIX)/include/linux
	install -m 644 $(UL_LIB_A) $(DESTDIR)$(LIBDIR)/
	install -m 755 $(UL_LIB_SO_REAL) $(DESTDIR)$(LIBDIR)/
	ln -sf $(notdir $(UL_LIB_SO_REAL)) $(DESTDIR)$(LIBDIR)/$(notdir $(UL_LIB_SO_MAJOR))
	ln -sf $(notdir $(UL_LIB_SO_MAJOR)) $(DESTDIR)$(LIBDIR)/$(notdir $(UL_LIB_SO))
	install -m 644 $(UL_DIR)/include/sys/ioring.h $(DESTDIR)$(PREFIX)/include/sys/
	install -m 644 $(TOP)/uapi/pwring.h $(DESTDIR)$(PREFIX)/include/linux/
	sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@LIBDIR@|$(LIBDIR)|g' \
		-e 's|@VERSION@|$(PWRING_VERSION)|g' $(UL_DIR)/libpwring.pc.in > $(DESTDIR)$(LIBDIR)/pkgconfig/libpwring.pc

-include $(UL_LIB_OBJS:.o=.d) $(patsubst $(BUILD)/examples/%,$(UL_OBJ)/examples/%.d,$(UL_EXAMPLES))
