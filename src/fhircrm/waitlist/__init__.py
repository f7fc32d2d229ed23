"""Waitlist and capacity recovery: a freed slot is offered to the best-ranked waitlisted patients with a
time-boxed hold; the first to accept gets the booking, the others are told it is gone; recovered slots are
counted (Appointments carrying the recovered-slot identifier)."""
