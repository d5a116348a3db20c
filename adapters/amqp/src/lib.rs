//! virtbus-amqp: the AMQP/QMF adapter (issue: AMQP adapter). Not built yet;
//! the agent refuses `--amqp-url` until it is.
