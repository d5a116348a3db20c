//! CIM-XML (DSP0201) on the wire: a bounded XML reader into a small element
//! tree ([`dom`]), the decoding of requests from it ([`request`]) and the
//! writer of responses ([`write`]).

pub mod dom;
pub mod request;
pub mod write;
