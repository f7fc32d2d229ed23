"""No-show risk: features known at booking time, a logistic model, a RiskAssessment per booked Appointment.

Only what is known when the prediction is made counts: earlier no-shows and cancellations are counted from
appointments that took place before the booking being scored, never from later ones.
"""
