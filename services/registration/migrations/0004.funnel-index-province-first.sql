-- The funnel gauge's index, with the province first. Led by status, it was also a way to find
-- 'submitted' rows, and the planner took it for the projector's duplicate check ("these ids, if
-- still submitted") whenever its statistics said few rows were submitted: during a spike's
-- backlog that read every submitted row to find a batch's dozen (72 ms per batch with 60,000
-- submitted, growing with the backlog; 0.2 ms through the primary key). No query looks rows up
-- by status alone, and the gauge's GROUP BY reads the index just as well in this order.
DROP INDEX registrations_status_province;
CREATE INDEX registrations_province_status ON registrations (province_code, status);
