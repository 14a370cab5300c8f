// Replays the vectors of `nsflow regcheck --emit-vectors` against the register block
// PeakRDL-regblock generates from docs/nsflow.rdl (APB4 CPU interface, hardware inputs
// idle), under Verilator. A write of CTRL.soft_reset resets the block, as the logic around
// it does. Prints "N reads matched" and exits 0, or prints each mismatch and exits 1.
// Built and run by tests/regblock_rtl.rs.
#include "Vnsflow.h"
#include "nsflow_regs.h"
#include "verilated.h"

#include <cstdint>
#include <cstdio>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>

namespace {

Vnsflow *top;

void tick() {
    top->clk = 0;
    top->eval();
    top->clk = 1;
    top->eval();
}

void reset() {
    top->rst = 1;
    tick();
    tick();
    top->rst = 0;
    tick();
}

// One APB4 transfer: setup phase, then access phase until PREADY. Returns PRDATA.
uint32_t apb(bool write, uint32_t addr, uint32_t data, bool *slverr) {
    top->s_apb_psel = 1;
    top->s_apb_penable = 0;
    top->s_apb_pwrite = write;
    top->s_apb_paddr = addr;
    top->s_apb_pwdata = data;
    top->s_apb_pstrb = 0xf;
    top->s_apb_pprot = 0;
    tick();
    top->s_apb_penable = 1;
    uint32_t rdata = 0;
    for (int cycles = 0; cycles < 64; ++cycles) {
        top->eval();
        if (top->s_apb_pready) {
            rdata = top->s_apb_prdata;
            *slverr = top->s_apb_pslverr;
            tick();
            top->s_apb_psel = 0;
            top->s_apb_penable = 0;
            top->eval();
            return rdata;
        }
        tick();
    }
    std::fprintf(stderr, "no PREADY for %s at 0x%04x\n", write ? "write" : "read", addr);
    std::exit(2);
}

}  // namespace

int main(int argc, char **argv) {
    if (argc < 2) {
        std::fprintf(stderr, "usage: %s VECTORS\n", argv[0]);
        return 2;
    }
    std::ifstream in(argv[1]);
    if (!in) {
        std::fprintf(stderr, "cannot read %s\n", argv[1]);
        return 2;
    }
    auto ctx = std::make_unique<VerilatedContext>();
    top = new Vnsflow(ctx.get());
    reset();
    std::string line;
    unsigned reads = 0, writes = 0, bad = 0, lineno = 0;
    while (std::getline(in, line)) {
        ++lineno;
        if (line.empty() || line[0] == '#') {
            continue;
        }
        std::istringstream f(line);
        std::string op;
        uint32_t off = 0, value = 0, mask = 0;
        f >> op >> std::hex >> off >> value;
        bool slverr = false;
        if (op == "W") {
            apb(true, off, value, &slverr);
            ++writes;
            if (off == NSFLOW_CTRL && (value & NSFLOW_CTRL_SOFT_RESET_MASK)) {
                reset();
            }
        } else if (op == "R") {
            f >> mask;
            uint32_t got = apb(false, off, 0, &slverr);
            ++reads;
            if ((got & mask) != (value & mask)) {
                ++bad;
                std::printf("line %u: read 0x%04x = 0x%08x, expected 0x%08x (mask 0x%08x)\n",
                            lineno, off, got, value, mask);
            }
        } else {
            std::fprintf(stderr, "line %u: bad vector: %s\n", lineno, line.c_str());
            return 2;
        }
        if (slverr) {
            ++bad;
            std::printf("line %u: PSLVERR at 0x%04x\n", lineno, off);
        }
    }
    top->final();
    delete top;
    std::printf("%u writes, %u reads, %u reads matched, %u mismatches\n", writes, reads,
                reads - bad, bad);
    return bad == 0 ? 0 : 1;
}
