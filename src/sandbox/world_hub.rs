//! Hubster-only generated data: chat conversations between the world's customer
//! contacts and the company's agents (people with `Person::accounts.hubster`),
//! with a bot in front, derived deterministically from the [`World`].
//!
//! A conversation opens with the customer greeting the bot; the bot answers, hands
//! off to an agent (a `handoff` event), the agent joins (an `agent:joined` event) and
//! agent and customer exchange messages; some agent messages are echoed back
//! (`isEcho`), some customers show a `typing` event, and about half of the
//! conversations are closed (`conversation:closed`). Now and then two activities share
//! one `eventId` (one millisecond), which incremental readers must not lose.

use chrono::{DateTime, Duration, Utc};
use serde_json::{Value, json};

use super::rng::Rng;
use super::world::World;

const S_HUB: u64 = 81;

/// An integration type (the kind of party an activity is sent by or to).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Party {
    Customer,
    Agent,
    Bot,
    System,
}

impl Party {
    pub fn as_str(self) -> &'static str {
        match self {
            Party::Customer => "Customer",
            Party::Agent => "Agent",
            Party::Bot => "Bot",
            Party::System => "System",
        }
    }
}

/// A customer's channel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CustomerChannel {
    WebChat,
    Messenger,
    TwilioSms,
}

impl CustomerChannel {
    /// Hubster's channel type name.
    pub fn as_str(self) -> &'static str {
        match self {
            CustomerChannel::WebChat => "WebChat",
            CustomerChannel::Messenger => "Messenger",
            CustomerChannel::TwilioSms => "TwilioSMS",
        }
    }
}

/// What an activity carries: a message or an event, never both.
#[derive(Clone, Debug, PartialEq)]
pub enum Content {
    /// A `text` message.
    Message(String),
    /// A `payload` event.
    Event { payload_type: String, payload: Value },
}

/// One activity of a conversation.
#[derive(Clone, Debug, PartialEq)]
pub struct HubActivity {
    /// Epoch milliseconds (also the `leid` cursor); not unique.
    pub event_id: i64,
    pub sender: Party,
    pub recipient: Party,
    pub content: Content,
    pub is_echo: bool,
    /// Position in the conversation (ids derive from it).
    pub seq: usize,
    /// Bot replies run as `AutoReplay`, everything else `Default`.
    pub auto_replay: bool,
}

impl HubActivity {
    /// `message:customer`, `event:agent`, ... (by sender).
    pub fn trigger(&self) -> String {
        let kind = match self.content {
            Content::Message(_) => "message",
            Content::Event { .. } => "event",
        };
        format!("{kind}:{}", self.sender.as_str().to_lowercase())
    }

    /// Whether a read for integration type `t` returns it (sender or recipient is `t`).
    pub fn involves(&self, t: Party) -> bool {
        self.sender == t || self.recipient == t
    }

    /// The message text, for messages.
    pub fn text(&self) -> Option<&str> {
        match &self.content {
            Content::Message(t) => Some(t),
            Content::Event { .. } => None,
        }
    }
}

/// A chat conversation.
#[derive(Clone, Debug, PartialEq)]
pub struct HubConversation {
    pub index: usize,
    /// World contact index of the customer.
    pub contact: usize,
    /// Person index of the agent.
    pub agent: usize,
    pub channel: CustomerChannel,
    pub opened: DateTime<Utc>,
    /// In event order (ties keep generation order).
    pub activities: Vec<HubActivity>,
}

/// Everything only Hubster has.
#[derive(Clone, Debug, PartialEq)]
pub struct HubData {
    /// Ordered by opening time.
    pub conversations: Vec<HubConversation>,
}

const GREETINGS: [&str; 4] = ["Hi there!", "Hello, anyone around?", "Hi, quick question.", "Good morning!"];
const QUESTIONS: [&str; 6] = [
    "Can I get a quote for {n} seats?",
    "Does your product integrate with Salesforce?",
    "I can't log in to the dashboard since this morning.",
    "Is there a discount for annual billing?",
    "How do I export call recordings?",
    "We'd like a demo for our sales team.",
];
const AGENT_LINES: [&str; 6] = [
    "Hello! How can I help you today?",
    "Thanks for waiting, {first}. Let me look into that.",
    "I've sent the details to {email}.",
    "Could you tell me a bit more about your team?",
    "That's on our roadmap for next quarter.",
    "Anything else I can help with?",
];
const CUSTOMER_LINES: [&str; 5] =
    ["Great, thanks!", "We're about {n} reps.", "That works for us.", "Perfect, that answers it.", "Thanks, bye!"];

impl HubData {
    /// Hubster's data for `world`: `n` conversations (deterministic).
    pub fn generate(world: &World, n: usize) -> HubData {
        let agents: Vec<usize> =
            world.people.iter().filter(|p| p.accounts.hubster && p.active).map(|p| p.index).collect();
        if agents.is_empty() || world.contacts.is_empty() {
            return HubData { conversations: Vec::new() };
        }
        let span = (world.window_end - world.window_start).num_seconds().max(1) as u64;
        let mut conversations: Vec<HubConversation> = (0..n)
            .map(|i| {
                let mut r = Rng::derive(world.seed, S_HUB, i as u64);
                let contact = r.index(world.contacts.len());
                let agent = *r.pick(&agents);
                let channel = match r.below(10) {
                    0..=5 => CustomerChannel::WebChat,
                    6..=7 => CustomerChannel::Messenger,
                    _ => CustomerChannel::TwilioSms,
                };
                let opened = world.window_start
                    + Duration::seconds(r.below(span) as i64)
                    + Duration::milliseconds(r.below(1000) as i64);
                let c = &world.contacts[contact];
                let seats = (2 + r.below(30)) * 5;
                let fill = |t: &str| {
                    t.replace("{n}", &seats.to_string()).replace("{first}", &c.first_name).replace("{email}", &c.email)
                };
                let mut acts: Vec<HubActivity> = Vec::new();
                let mut t = opened.timestamp_millis();
                let push = |acts: &mut Vec<HubActivity>, t: i64, s: Party, rcp: Party, content: Content, echo: bool| {
                    let seq = acts.len();
                    acts.push(HubActivity {
                        event_id: t,
                        sender: s,
                        recipient: rcp,
                        content,
                        is_echo: echo,
                        seq,
                        auto_replay: s == Party::Bot,
                    });
                };
                use Party::*;
                push(&mut acts, t, Customer, Bot, Content::Message(r.pick(&GREETINGS).to_string()), false);
                t += 400 + r.below(1500) as i64;
                push(
                    &mut acts,
                    t,
                    Bot,
                    Customer,
                    Content::Message("Hi! I'm Acme's assistant. What can I do for you?".into()),
                    false,
                );
                t += 3_000 + r.below(40_000) as i64;
                if r.chance(0.4) {
                    push(&mut acts, t - 900, Customer, Bot, event("typing", json!({ "state": "on" })), false);
                }
                push(&mut acts, t, Customer, Bot, Content::Message(fill(r.pick::<&str>(&QUESTIONS))), false);
                t += 500 + r.below(1500) as i64;
                push(
                    &mut acts,
                    t,
                    Bot,
                    Customer,
                    Content::Message("Let me connect you with someone from our team.".into()),
                    false,
                );
                // The handoff often lands in the same millisecond as the bot's reply.
                if !r.chance(0.35) {
                    t += 1 + r.below(50) as i64;
                }
                push(
                    &mut acts,
                    t,
                    Bot,
                    Agent,
                    event("handoff", json!({ "reason": "question", "queue": "sales" })),
                    false,
                );
                t += 5_000 + r.below(120_000) as i64;
                push(&mut acts, t, Agent, Customer, event("agent:joined", json!({ "status": "joined" })), false);
                let turns = 2 + r.index(7);
                for k in 0..turns {
                    t += 4_000 + r.below(90_000) as i64;
                    if k % 2 == 0 {
                        let line = fill(if k == 0 { AGENT_LINES[0] } else { r.pick::<&str>(&AGENT_LINES[1..]) });
                        push(&mut acts, t, Agent, Customer, Content::Message(line.clone()), false);
                        if r.chance(0.15) {
                            push(&mut acts, t + 1, Agent, Customer, Content::Message(line), true);
                        }
                    } else {
                        push(
                            &mut acts,
                            t,
                            Customer,
                            Agent,
                            Content::Message(fill(r.pick::<&str>(&CUSTOMER_LINES))),
                            false,
                        );
                    }
                }
                if r.chance(0.5) {
                    t += 60_000 + r.below(600_000) as i64;
                    push(&mut acts, t, Agent, Customer, event("conversation:closed", json!({ "by": "agent" })), false);
                }
                acts.sort_by_key(|a| (a.event_id, a.seq));
                for (seq, a) in acts.iter_mut().enumerate() {
                    a.seq = seq;
                }
                HubConversation { index: i, contact, agent, channel, opened, activities: acts }
            })
            .collect();
        conversations.sort_by_key(|c| (c.opened, c.index));
        for (k, c) in conversations.iter_mut().enumerate() {
            c.index = k;
        }
        HubData { conversations }
    }
}

fn event(payload_type: &str, payload: Value) -> Content {
    Content::Event { payload_type: payload_type.into(), payload }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sandbox::SandboxSettings;

    #[test]
    fn conversations_are_ordered_and_have_messages_from_every_party() {
        let world = World::generate(&SandboxSettings::default());
        let data = HubData::generate(&world, 60);
        assert_eq!(data.conversations.len(), 60);
        assert!(data.conversations.windows(2).all(|w| w[0].opened <= w[1].opened));
        let mut shared_ms = 0;
        for c in &data.conversations {
            assert!(c.activities.windows(2).all(|w| w[0].event_id <= w[1].event_id));
            shared_ms += c.activities.windows(2).filter(|w| w[0].event_id == w[1].event_id).count();
            for p in [Party::Customer, Party::Agent, Party::Bot] {
                assert!(c.activities.iter().any(|a| a.sender == p && a.text().is_some()), "{p:?}");
            }
            assert!(world.people[c.agent].accounts.hubster);
        }
        assert!(shared_ms > 0, "some activities share a millisecond");
        assert!(data.conversations.iter().flat_map(|c| &c.activities).any(|a| a.is_echo));
    }
}
