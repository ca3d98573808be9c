//! The tape as bytes and back, for pickling: a flat little-endian format.
//!
//! `FGT2` (written today): the magic, then `n_inputs`, `output`, the pool's length and entries,
//! the number of instructions (all u64), then per instruction a tag byte and four fields: `a`,
//! `b`, `c` (u64) and `f` (f64). Input: none used; Const: `f`; Unary: code `a`, operand `b`,
//! parameter `f`; Binary: code `a`, operands `b` and `c`; Sum/Dot: pool start `a`, length `b`.
//! `FGT1` (read only: tapes pickled before) had no `c`: a binary op's second operand travelled
//! in the bits of `f`. `FGT3` (a function returning a sequence of Values) is `FGT2` with
//! `output` replaced by the number of outputs and their slots; a scalar tape is still `FGT2`.

use super::{Instr, Tape, TapeError};
use crate::ops::{check_slope, Code};

impl Tape {
    /// The tape in a flat little-endian byte format (what pickling stores); [`Tape::from_bytes`]
    /// reads it back.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        let put = |out: &mut Vec<u8>, x: u64| out.extend_from_slice(&x.to_le_bytes());
        out.extend_from_slice(if self.vector { b"FGT3" } else { b"FGT2" });
        put(&mut out, self.n_inputs as u64);
        if self.vector {
            put(&mut out, self.outputs.len() as u64);
        }
        for &o in &self.outputs {
            put(&mut out, o as u64);
        }
        put(&mut out, self.pool.len() as u64);
        for &p in &self.pool {
            put(&mut out, p as u64);
        }
        put(&mut out, self.instrs.len() as u64);
        for instr in &self.instrs {
            let (tag, a, b, c, f): (u8, u64, u64, u64, f64) = match *instr {
                Instr::Input => (0, 0, 0, 0, 0.0),
                Instr::Const(v) => (1, 0, 0, 0, v),
                Instr::Unary { code, x, p } => (2, code as u64, x as u64, 0, p),
                Instr::Binary { code, x, y } => (3, code as u64, x as u64, y as u64, 0.0),
                Instr::Sum { start, len } => (4, start as u64, len as u64, 0, 0.0),
                Instr::Dot { start, len } => (5, start as u64, len as u64, 0, 0.0),
            };
            out.push(tag);
            put(&mut out, a);
            put(&mut out, b);
            put(&mut out, c);
            out.extend_from_slice(&f.to_le_bytes());
        }
        out
    }

    /// A tape from [`Tape::to_bytes`] output; [`TapeError::Corrupt`] for anything else.
    pub fn from_bytes(bytes: &[u8]) -> Result<Tape, TapeError> {
        let mut r = Reader { bytes, at: 0 };
        let (v1, vector) = match r.take(4)? {
            b"FGT1" => (true, false),
            b"FGT2" => (false, false),
            b"FGT3" => (false, true),
            _ => return Err(TapeError::Corrupt("bad header")),
        };
        let n_inputs = r.u64()? as usize;
        let n_outputs = if vector { r.u64()? } else { 1 };
        if n_outputs == 0 {
            return Err(TapeError::Corrupt("no outputs"));
        }
        // Each output takes 8 bytes: a count past the data is truncation, found as it is read.
        let mut outputs = Vec::new();
        for _ in 0..n_outputs {
            outputs.push(r.u32()?);
        }
        let pool_len = r.u64()? as usize;
        let pool = (0..pool_len)
            .map(|_| r.u32())
            .collect::<Result<Vec<_>, _>>()?;
        let len = r.u64()? as usize;
        let mut instrs = Vec::with_capacity(len.min(1 << 20));
        for i in 0..len {
            let tag = r.take(1)?[0];
            let (a, b) = (r.u64()?, r.u64()?);
            let (c, f) = if v1 {
                let f = r.f64()?;
                (f.to_bits(), f)
            } else {
                (r.u64()?, r.f64()?)
            };
            let below = |s: u64| -> Result<u32, TapeError> {
                if (s as usize) < i {
                    Ok(s as u32)
                } else {
                    Err(TapeError::Corrupt("operand after its user"))
                }
            };
            let instr = match tag {
                0 => Instr::Input,
                1 => Instr::Const(f),
                2 => Instr::Unary {
                    code: code_from(a)?,
                    x: below(b)?,
                    p: f,
                },
                3 => Instr::Binary {
                    code: code_from(a)?,
                    x: below(b)?,
                    y: below(c)?,
                },
                4 | 5 => {
                    let span = if tag == 4 { Some(b) } else { b.checked_mul(2) };
                    let end = span.and_then(|s| s.checked_add(a));
                    let Some(end) = end.filter(|&e| e <= pool.len() as u64) else {
                        return Err(TapeError::Corrupt("bad operand list"));
                    };
                    if pool[a as usize..end as usize]
                        .iter()
                        .any(|&p| p as usize >= i)
                    {
                        return Err(TapeError::Corrupt("bad operand list"));
                    }
                    if tag == 4 {
                        Instr::Sum {
                            start: a as u32,
                            len: b as u32,
                        }
                    } else {
                        Instr::Dot {
                            start: a as u32,
                            len: b as u32,
                        }
                    }
                }
                _ => return Err(TapeError::Corrupt("unknown instruction")),
            };
            if (i < n_inputs) != (instr == Instr::Input) {
                return Err(TapeError::Corrupt("inputs must come first"));
            }
            instrs.push(instr);
        }
        if n_inputs > instrs.len() {
            return Err(TapeError::Corrupt("more inputs than slots"));
        }
        if outputs.iter().any(|&o| o as usize >= instrs.len()) || r.at != bytes.len() {
            return Err(TapeError::Corrupt("bad length"));
        }
        check_codes(&instrs)?;
        Tape::new(n_inputs, instrs, pool, outputs, vector)
    }
}

fn check_codes(instrs: &[Instr]) -> Result<(), TapeError> {
    for instr in instrs {
        let ok = match instr {
            Instr::Unary { code, .. } => code.arity() == Some(1),
            Instr::Binary { code, .. } => code.arity() == Some(2),
            _ => true,
        };
        if !ok {
            return Err(TapeError::Corrupt("op of the wrong arity"));
        }
        if let Instr::Unary {
            code: Code::LeakyRelu,
            p,
            ..
        } = *instr
        {
            check_slope(p).map_err(|_| TapeError::Corrupt("bad leaky_relu slope"))?;
        }
    }
    Ok(())
}

/// The unary or binary op numbered `x`; the tape's other instructions are not ops.
fn code_from(x: u64) -> Result<Code, TapeError> {
    Code::from_index(x)
        .filter(|c| matches!(c.arity(), Some(1 | 2)))
        .ok_or(TapeError::Corrupt("unknown op"))
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], TapeError> {
        let end = self.at.checked_add(n).filter(|&e| e <= self.bytes.len());
        let end = end.ok_or(TapeError::Corrupt("truncated"))?;
        let out = &self.bytes[self.at..end];
        self.at = end;
        Ok(out)
    }
    fn u64(&mut self) -> Result<u64, TapeError> {
        Ok(u64::from_le_bytes(self.take(8)?.try_into().unwrap()))
    }
    fn u32(&mut self) -> Result<u32, TapeError> {
        u32::try_from(self.u64()?).map_err(|_| TapeError::Corrupt("index too large"))
    }
    fn f64(&mut self) -> Result<f64, TapeError> {
        Ok(f64::from_le_bytes(self.take(8)?.try_into().unwrap()))
    }
}
