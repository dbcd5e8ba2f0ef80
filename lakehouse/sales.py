"""The per-customer sales expression shared by the gold and the released sales tables."""

_PLAN_RANK = (
    "CASE {0} WHEN 'free' THEN 0 WHEN 'basic' THEN 1 WHEN 'pro' THEN 2 WHEN 'enterprise' THEN 3 END"
)
# Common table expressions shared by the gold and the released sales tables: `per_customer`,
# one row per customer and (plan, state, specialty) with the customer's subscription moves and
# payments in the period.
# One payment counts at most MAX_PAYMENT_CENTS ($10 billion) either way: a larger amount is
# a broken record, and two of them (9e18 cents each) would overflow every 64-bit total.
MAX_PAYMENT_CENTS = 10**12
SALES_PER_CUSTOMER = f"""
    sales AS (
        SELECT e.user_key, p.state, p.specialty, e.event,
               least(greatest(e.amount_cents, -{MAX_PAYMENT_CENTS}), {MAX_PAYMENT_CENTS})
                   AS amount_cents,
               CASE WHEN e.event = 'payment' THEN e.plan ELSE e.plan_to END AS plan,
               {_PLAN_RANK.format("e.plan_from")} AS rank_from,
               {_PLAN_RANK.format("e.plan_to")} AS rank_to
        FROM eligible_events e LEFT JOIN profiles p USING (user_key)
        WHERE e.event IN ('payment', 'subscription_change')
    ), per_customer AS (
        SELECT plan, state, specialty, user_key,
               count(*) FILTER (WHERE event = 'subscription_change'
                                AND rank_from = 0 AND rank_to > 0) AS new_subscriptions,
               count(*) FILTER (WHERE event = 'subscription_change'
                                AND rank_from > 0 AND rank_to > rank_from) AS upgrades,
               count(*) FILTER (WHERE event = 'subscription_change'
                                AND rank_to > 0 AND rank_to < rank_from) AS downgrades,
               count(*) FILTER (WHERE event = 'subscription_change'
                                AND rank_to = 0 AND rank_from > 0) AS cancellations,
               coalesce(sum(amount_cents) FILTER (WHERE event = 'payment'), 0) AS revenue_cents
        FROM sales GROUP BY ALL
    )
"""
